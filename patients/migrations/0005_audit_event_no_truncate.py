from django.db import migrations

# Row triggers never see TRUNCATE: a statement trigger refuses it, for every role, the owner too.
NO_TRUNCATE = """
CREATE FUNCTION patients_auditevent_no_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: TRUNCATE refused' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER patients_auditevent_no_truncate
    BEFORE TRUNCATE ON patients_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION patients_auditevent_no_truncate();
"""
DROP_NO_TRUNCATE = """
DROP TRIGGER patients_auditevent_no_truncate ON patients_auditevent;
DROP FUNCTION patients_auditevent_no_truncate();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("patients", "0004_patient_rules_on_every_path"),
    ]

    operations = [
        migrations.RunSQL(NO_TRUNCATE, reverse_sql=DROP_NO_TRUNCATE),
    ]
