"""Every layer type name and alias, by the family module that registers it.

The graph stage looks a kind up by the name a spec writes and imports its family then, so
`specc check` pays only for the families a spec uses (a family's parameter models and shape
rules cost more to import than checking a whole ResNet).  This table is how a name finds its
family without importing every one; ``register`` refuses a kind it does not list, and
``all_kinds`` one it lists but no module registers, so it cannot drift from the classes.
"""

from __future__ import annotations

FAMILIES: dict[str, tuple[str, ...]] = {
    "activation": ("ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh",
                   "Softplus", "Softsign", "Hardtanh", "Hardswish", "Hardsigmoid", "Softmax", "LogSoftmax", "PReLU",
                   "Abs"),
    "attention": ("MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
                  "TransformerDecoder", "PositionalEncoding", "ClassToken"),
    "conv": ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "DepthwiseConv1d",
             "DepthwiseConv2d", "SeparableConv1d", "SeparableConv2d", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose",
             "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
             "SeparableConv2D"),
    "convlstm": ("ConvLSTM2d", "ConvLSTM2D"),
    "dropout": ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
                "StochasticDepth", "DropPath"),
    "embedding": ("Embedding",),
    "linear": ("Linear", "Dense"),
    "merge": ("Add", "Mul", "Sub", "Div", "Max", "Min", "Concat", "Multiply", "Subtract", "Divide", "Maximum",
              "Minimum", "Concatenate", "Cat"),
    "norm": ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
             "LayerNorm", "GroupNorm"),
    "pad": ("ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
            "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
            "ReplicationPad3d"),
    "pool": ("MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
             "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
             "GlobalAvgPool", "GlobalMaxPool", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
             "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
             "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
             "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"),
    "recurrent": ("RNN", "LSTM", "GRU", "Select", "SimpleRNN"),
    "reduce": ("Reduce", "Mean"),
    "resample": ("Upsample", "Interpolate"),
    "reshape": ("Identity", "Flatten", "Unflatten", "Reshape", "Permute", "Transpose", "Squeeze", "Unsqueeze", "Slice",
                "Split", "Chunk", "Cast", "PixelShuffle", "PixelUnshuffle", "DepthToSpace", "SpaceToDepth"),
    "wrappers": ("TimeDistributed",),
}

# name (a type or an alias) -> its family module
FAMILY_OF: dict[str, str] = {name: family for family, names in FAMILIES.items() for name in names}
