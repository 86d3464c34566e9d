from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without locking out the bookings of a large table (CREATE INDEX CONCURRENTLY runs outside a transaction).
    atomic = False

    dependencies = [
        ('scheduling', '0018_appointment_room_device_start'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='appointment',
            index=models.Index(condition=models.Q(('status__in', ('booked', 'arrived'))), fields=['starts_at', 'id'],
                               name='appointment_pending_start'),
        ),
    ]
