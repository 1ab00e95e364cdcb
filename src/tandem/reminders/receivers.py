"""What the reminders app does when the apps below announce something."""
