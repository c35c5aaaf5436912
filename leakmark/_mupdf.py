"""PyMuPDF, imported without its layout-analysis add-on.

PyMuPDF 2 imports `pymupdf.layout` (an ONNX network and onnxruntime, about half a second) whenever that
package is installed; leakmark never uses it. Every leakmark module imports PyMuPDF from here, so the
add-on stays unloaded unless the application itself imports it (afterwards, `import pymupdf.layout` works
as usual). MuPDF's own warnings would go to stdout, which `--json` keeps clean: they are turned off when
leakmark first loads PyMuPDF, not when `leakmark` is imported.
"""

import sys

_BLOCK = "pymupdf" not in sys.modules and "pymupdf.layout" not in sys.modules
if _BLOCK:
    sys.modules["pymupdf.layout"] = None  # type: ignore[assignment]  # `import` then raises ImportError
try:
    import pymupdf
finally:
    if _BLOCK:
        del sys.modules["pymupdf.layout"]
pymupdf.TOOLS.mupdf_display_errors(False)

__all__ = ["pymupdf"]
