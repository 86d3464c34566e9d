from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without locking out the bookings of a large table (CREATE INDEX CONCURRENTLY runs outside a transaction).
    atomic = False

    dependencies = [
        ('scheduling', '0017_notification_due_index'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='appointment',
            index=models.Index(fields=['room', 'starts_at'], name='appointment_room_start'),
        ),
        AddIndexConcurrently(
            model_name='appointment',
            index=models.Index(fields=['device', 'starts_at'], name='appointment_device_start'),
        ),
    ]
