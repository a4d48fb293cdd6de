"""The orgs REST API: thin views that parse input, call a selector or service, and render output."""
