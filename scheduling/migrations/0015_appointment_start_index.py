from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without locking out the bookings of a large table (CREATE INDEX CONCURRENTLY runs outside a transaction).
    atomic = False

    dependencies = [
        ('scheduling', '0014_counts_one_location_index'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='appointment',
            index=models.Index(fields=['starts_at', 'id'], name='appointment_start'),
        ),
    ]
