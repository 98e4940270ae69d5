"""The Authlib glue: the authorization server, its grants and models, client authentication,
access tokens, revocations and back-channel logout."""
