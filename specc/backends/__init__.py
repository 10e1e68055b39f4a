"""The only place torch, onnx and onnxruntime are imported: build, export, run, bench, train.

Import the submodules you need (``specc.backends.onnx_export``, ``.ort``, ``.bench``); this
package itself imports nothing heavy, so ``import specc.backends`` stays cheap.
"""
