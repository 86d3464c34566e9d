from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without locking out the bookings of a large table (CREATE INDEX CONCURRENTLY runs outside a transaction).
    atomic = False

    dependencies = [
        ('scheduling', '0019_appointment_pending_start'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='course',
            index=models.Index(fields=['created_at', 'id'], name='course_created'),
        ),
    ]
