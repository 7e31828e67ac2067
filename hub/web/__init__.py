"""``yizhan hub web``: the staff workbench, a server-rendered ASGI application over the hub database.

Pages are Jinja2 templates (one per page plus partials) with htmx vendored in ``static/``; routes
are thin and call the same ``hub`` functions as the command line. Every route is built by
:func:`hub.web.guard.route`, which applies sign-in, CSRF and station scope before the handler runs.
"""
