"""The pages a person sees while signing in to an app, with their templates, locales and
static files."""
