"""The relational store: models, engine, migrations, the device registry writer."""
