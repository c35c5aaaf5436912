"""PyMuPDF, imported without its layout-analysis and LLM add-ons.

PyMuPDF 2 imports `pymupdf.layout` (an ONNX network) and `pymupdf4llm` (which loads onnxruntime) whenever
those packages are installed, which pip does with PyMuPDF: about half a second and 200 MB that leakmark never
uses. Every leakmark module imports PyMuPDF from here, so the add-ons stay unloaded unless the application
imported PyMuPDF first (afterwards `import pymupdf.layout` works as usual; PyMuPDF's own `to_markdown`
helpers then say the add-on is unavailable). MuPDF's own warnings would go to stdout, which `--json` keeps
clean: they are turned off when leakmark first loads PyMuPDF, not when `leakmark` is imported.
"""

import sys

_ADDONS = ("pymupdf.layout", "pymupdf4llm")
_BLOCKED = [] if "pymupdf" in sys.modules else [m for m in _ADDONS if m not in sys.modules]
for _name in _BLOCKED:
    sys.modules[_name] = None  # type: ignore[assignment]  # `import` then raises ImportError, which PyMuPDF skips
try:
    import pymupdf
finally:
    for _name in _BLOCKED:
        del sys.modules[_name]
pymupdf.TOOLS.mupdf_display_errors(False)

__all__ = ["pymupdf"]
