"""The HTTP side: the app factory, its routers and the static page."""
