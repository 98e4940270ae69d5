"""The mobile clients' API: scan-to-sign-in tickets, the PC page's wait for them, the app's
calls, and the app installations a person can see and end."""
