"""The live page's files (index.html, ES modules, stylesheet), served by ``graph.web.livepage``."""
