"""Services without HTTP: accounts, passwords, PII, second factors, sessions, clients and their
policies, access, login systems, federation, delegations and the audit log."""
