"""Interactive pages of a network: the HTML diagram (``render -o net.html``), the visual diff
(``diff A B --html``) and the live editor (``serve``).

The package imports nothing on its own: :mod:`.commands` (the command-line arguments, standard library only) is
read by the parser, and the rest loads when a page is made. :mod:`.facts` is the one door to the renderer's
words and colours, :mod:`.model` turns an analysis into the data a page draws, :mod:`.page` writes the
self-contained HTML, :mod:`.diff` the diff page, :mod:`.server` the live editor; the front end (Graphviz in
WebAssembly, CodeMirror, pan and zoom) is the bundle in :mod:`.assets`, built from ``frontend/``.
"""
