"""The app's pages, in nav-bar order. Each module has PATH, NAME, `layout(reader, query)`
and `register(app, reader)`."""

from . import genre, greenlight, markets, talent, title, top10

PAGES = (top10, title, genre, talent, markets, greenlight)
