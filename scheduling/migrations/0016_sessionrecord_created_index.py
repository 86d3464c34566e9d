from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without locking out the recording of sessions (CREATE INDEX CONCURRENTLY runs outside a transaction).
    atomic = False

    dependencies = [
        ('scheduling', '0015_appointment_start_index'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='sessionrecord',
            index=models.Index(fields=['created_at'], name='sessionrecord_created'),
        ),
    ]
