"""App: the browser chat (web, render) over one shared, swappable index (library), and articles added by upload."""
