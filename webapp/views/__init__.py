"""The portal's blueprints: pages, API, exports, and the error handlers."""
