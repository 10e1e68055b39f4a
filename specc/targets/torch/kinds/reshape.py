"""PyTorch lowering of the layers that move elements around.

Identity, Flatten and Unflatten are nn modules; the rest are written inline
(``x.permute(0, 2, 1)``).  Reshape names symbolic dims by the input axis they come from
or by position (``x.reshape(x.shape[0], -1, 64)``, ``like.shape[2]``), so the generated code
works for any size of the symbols and exports to ONNX with dynamic axes.  Slice is Python's
``x[:, a:b]``, which ONNX exports as a Slice node that keeps dynamic dims dynamic.
"""

from __future__ import annotations

from typing import Any

from .base import Lowering, lowering, on


@lowering
class Identity(Lowering):
    torch_class = "nn.Identity"


@lowering
class Flatten(Lowering):
    torch_class = "nn.Flatten"
    defaults = {"start_dim": 1, "end_dim": -1}


@lowering
class Unflatten(Lowering):
    torch_class = "nn.Unflatten"
    positional = ("dim", "unflattened_size")

    def init(self, args: dict[str, Any], lit: Any = repr) -> str | None:
        return None if "reads" in args else super().init(args, lit)

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        if "reads" not in args:
            return super().forward(module, inputs, args)
        sizes = _read_sizes(args["unflattened_size"], args["reads"], inputs)
        # no trailing comma past one size: ruff would keep the call exploded over lines
        return f"{on(inputs[0])}.unflatten({args['dim']}, ({', '.join(sizes)}{',' if len(sizes) == 1 else ''}))"


def _read_sizes(entries: Any, reads: Any, inputs: list[str]) -> list[str]:
    """The sizes as written, each one the spec reads from a tensor as that tensor's size at run time
    (x.shape[0], like.shape[2]), never the number it had when traced: TorchScript and dynamo keep it
    dynamic."""
    return [str(e) if read is None else f"{on(inputs[read[0]])}.shape[{read[1]}]" for e, read in zip(entries, reads)]


@lowering
class Reshape(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        sizes = _read_sizes(args["shape"], args["reads"], inputs)
        return f"{on(inputs[0])}.reshape({', '.join(sizes)})"


@lowering
class Permute(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"{on(inputs[0])}.permute({', '.join(str(d) for d in args['dims'])})"


@lowering
class Transpose(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"{on(inputs[0])}.transpose({args['dim0']}, {args['dim1']})"


@lowering
class Squeeze(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"{on(inputs[0])}.squeeze({args['dim']})"


@lowering
class Unsqueeze(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"{on(inputs[0])}.unsqueeze({args['dim']})"


@lowering
class Repeat(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"{on(inputs[0])}.repeat({', '.join(str(r) for r in args['repeats'])})"


@lowering
class RepeatVector(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"{on(inputs[0])}.unsqueeze(1).repeat(1, {args['n']}, 1)"


@lowering
class Slice(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        start = str(args["start"]) if args["start"] else ""
        stop = "" if args["stop"] is None else str(args["stop"])
        step = f":{args['step']}" if args["step"] != 1 else ""
        return f"{on(inputs[0])}[{', '.join([':'] * args['dim'] + [f'{start}:{stop}{step}'])}]"



@lowering
class Roll(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        shifts, dims = args["shifts"], args["dims"]
        if len(dims) == 1:
            return f"torch.roll({inputs[0]}, {shifts[0]}, {dims[0]})"
        return f"torch.roll({inputs[0]}, ({', '.join(map(str, shifts))}), ({', '.join(map(str, dims))}))"


@lowering
class Triangle(Lowering):
    torch_class = "Triangle"
    support = ("triangle",)
    positional = ("rows", "cols")
    defaults = {"offset": -1}


@lowering
class PixelShuffle(Lowering):
    torch_class = "nn.PixelShuffle"
    positional = ("upscale_factor",)


@lowering
class PixelUnshuffle(Lowering):
    torch_class = "nn.PixelUnshuffle"
    positional = ("downscale_factor",)


@lowering
class Split(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"torch.split({inputs[0]}, {args['split_size_or_sections']!r}, dim={args['dim']})"


@lowering
class Chunk(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"torch.chunk({inputs[0]}, {args['chunks']}, dim={args['dim']})"


@lowering
class Cast(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"{on(inputs[0])}.to(torch.{args['dtype']})"
