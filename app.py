"""The WSGI entry point: `app = create_app()`."""

from liveblog import create_app

app = create_app()
