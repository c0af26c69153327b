"""A minimal Django site running dj-stripe against the emulator (tests/thirdparty)."""
