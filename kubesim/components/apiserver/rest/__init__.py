"""The apiserver's REST facade: HTTP routing (app.py, the only module that imports
aiohttp), request info from URLs, discovery and OpenAPI documents, server-side Table
printers, and health endpoints. Everything but app.py is pure and used by the handler.
"""
