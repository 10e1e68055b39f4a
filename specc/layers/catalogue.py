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
                   "Softplus", "Softsign", "Hardtanh", "Hardswish", "Hardsigmoid", "Softmax", "LogSoftmax", "Sparsemax",
                   "PReLU", "Abs", "GLU", "Sin", "Cos", "Exp", "Scale"),
    "attention": ("MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
                  "TransformerDecoder", "PositionalEncoding", "ClassToken", "LearnedTokens", "MultiheadLatentAttention",
                  "MLA"),
    "conv": ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "DepthwiseConv1d",
             "DepthwiseConv2d", "SeparableConv1d", "SeparableConv2d", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose",
             "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
             "SeparableConv2D"),
    "convlstm": ("ConvLSTM2d", "ConvLSTM2D"),
    "dropout": ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
                "StochasticDepth", "DropPath"),
    "embedding": ("Embedding", "SinusoidalEmbedding", "VectorQuantizer"),
    "index": ("ArgMax", "ArgMin", "CumSum", "Compare", "Pick", "MaskedFill", "CausalMask", "RelativePositionBucket",
              "RelativePositionIndex", "ALiBi", "AnchorPoints"),
    "linear": ("Linear", "Dense", "MixtureOfExperts", "SparseMoE"),
    "merge": ("Add", "Mul", "Sub", "Div", "Max", "Min", "Concat", "Multiply", "Subtract", "Divide", "Maximum",
              "Minimum", "Concatenate", "Cat", "MatMul", "Modulate", "WeightedSum"),
    "norm": ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
             "LayerNorm", "GroupNorm", "RMSNorm", "Normalize", "LayerScale"),
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
    "reduce": ("Reduce", "Mean", "SoftArgmax"),
    "resample": ("Upsample", "Interpolate"),
    "reshape": ("Identity", "Flatten", "Unflatten", "Reshape", "Permute", "Transpose", "Squeeze", "Unsqueeze", "Slice",
                "Split", "Chunk", "Cast", "PixelShuffle", "PixelUnshuffle", "DepthToSpace", "SpaceToDepth", "Repeat",
                "Tile", "RepeatVector", "Roll", "Triangle"),
    "ssm": ("Mamba", "MambaMixer"),
    "wrappers": ("TimeDistributed",),
}

# name (a type or an alias) -> its family module
FAMILY_OF: dict[str, str] = {name: family for family, names in FAMILIES.items() for name in names}


# Other frameworks' layer names that are not specc's, with how a spec writes the same thing: the
# hint of an unknown type (V004) before any spelling guess, which would be wrong for these
# (BatchNormalization is not BatchNorm3d).  ``{n}`` is the name's own 1/2/3.
ELSEWHERE: tuple[tuple[str, str], ...] = (
    (r"BatchNormalization", "specc names batch norm by the input's rank, channels first as in PyTorch: BatchNorm1d "
     "for (N, C) or (N, C, L), BatchNorm2d for (N, C, H, W), BatchNorm3d for (N, C, D, H, W)"),
    (r"SyncBatchNorm", "use BatchNorm1d, BatchNorm2d or BatchNorm3d by the input's rank"),
    (r"ZeroPadding([123])D", "use - {{type: ZeroPad{n}d, padding: 1}}"),
    (r"Cropping([123])D", "crop with a Slice per dim: - {{type: Slice, dim: 2, start: 1, stop: -1}} drops one "
     "from each end of dim 2"),
    (r"UpSampling([123])D|UpsamplingNearest([123])d", "use - {{type: Upsample, scale_factor: 2, mode: nearest}}"),
    (r"UpsamplingBilinear2d", "use - {{type: Upsample, scale_factor: 2, mode: bilinear, align_corners: true}} "
     "(UpsamplingBilinear2d aligns corners)"),
    (r"SpatialDropout([123])D", "use - {{type: Dropout{n}d, p: 0.2}}: it zeroes whole channels"),
    (r"GaussianNoise|GaussianDropout", "training-time noise is not a specc layer: use Dropout, or add the noise to "
     "the data"),
    (r"Activation", "write the activation as a layer of its own, e.g. - {{type: ReLU}} (GELU, SiLU, Tanh, Sigmoid, "
     "Softmax, ... : `specc layers` lists them)"),
    (r"Swish", "use - {{type: SiLU}} (x·sigmoid(x))"),
    (r"Bidirectional", "set bidirectional: true on the recurrent layer: - {{type: LSTM, hidden_size: 64, "
     "bidirectional: true}}"),
    (r"Lambda", "a spec holds no code: write the computation with layers (`specc layers`), or compile the spec and "
     "edit the generated PyTorch"),
    (r"Rescaling|Normalization", "scaling inputs is the training run's job: train: {{preprocess: {{inputs: "
     "standardize}}}} (or minmax), fitted on the training split and carried by the exported model"),
    (r"Input|InputLayer", "declare inputs in the inputs: section, e.g. inputs: {{image: [B, 3, 224, 224]}}"),
    (r"Sequential", "layers: is already a sequence; name a reusable group of layers as a block (blocks:)"),
    (r"Lazy(Linear|Conv[123]d|ConvTranspose[123]d|BatchNorm[123]d|InstanceNorm[123]d)",
     "use {m}: specc infers in_features and in_channels anyway"),
    (r"Softmax2d", "use - {{type: Softmax, dim: -3}}: softmax over the channels of (N, C, H, W)"),
    (r"EmbeddingBag", "use an Embedding, then - {{type: Reduce, op: mean, dim: 1}} (or op: sum)"),
    (r"Transformer", "use TransformerEncoder, and TransformerDecoder with from: [target, memory]"),
    (r"Attention|AdditiveAttention", "use MultiheadAttention: from: [query, key_value] for attention over another "
     "sequence"),
    (r"Rotary(?:Positional|Position)?Embeddings?|RoPE|Rope", "rotary embeddings turn the queries and keys inside "
     "attention, not the sequence: give the MultiheadAttention rotary: {{base: 10000}} (dim: for a part of each "
     "head, as GPT-NeoX)"),
    (r"(?:Llama|Mistral|Qwen2|GroupedQuery|MultiQuery|GQA)Attention", "use MultiheadAttention with num_kv_heads: "
     "(the key/value heads; 1 for multi-query) and rotary: {{}} for LLaMA's positions"),
    (r"Timesteps|TimestepEmbedd(?:ing|er)|SinusoidalPosEmb|TimestepEncoding", "use - {{type: SinusoidalEmbedding, "
     "dim: 256, flip_sin_to_cos: true, downscale_freq_shift: 0}} on the (B,) timesteps (DiT's and diffusers' UNets' "
     "settings; diffusers' get_timestep_embedding defaults to flip_sin_to_cos: false, downscale_freq_shift: 1), then "
     "Linear, SiLU, Linear for the embedding MLP"),
    (r"AdaLayerNorm(?:Zero|Single|Continuous)?|AdaLN(?:Zero)?|AdaGroupNorm|FiLM", "write the norm without its "
     "affine, then Modulate: a Linear of the conditioning vector split by - {{type: Chunk, chunks: 2, dim: 1, name: "
     "mod}}, - {{type: LayerNorm, from: x, elementwise_affine: false}}, - {{type: Modulate, from: [layer_norm, mod.0, "
     "mod.1]}} (x · (1 + scale) + shift; dim: 1 for a (B, C, H, W) map)"),
    (r"Dot", "for a dot product of two inputs: - {{type: Mul, from: [a, b]}} then - {{type: Reduce, op: sum, dim: "
     "-1}}"),
    (r"ChannelShuffle", "shuffle g groups with - {{type: Reshape, shape: [B, g, -1, H, W]}}, - {{type: Transpose, "
     "dim0: 1, dim1: 2}}, - {{type: Reshape, shape: [B, -1, H, W]}}"),
    (r"SpectralNormalization|SpectralNorm", "set spectral_norm: true on the layer it wraps: - {{type: Conv2d, "
     "out_channels: 64, kernel_size: 3, spectral_norm: true}}"),
    (r"WeightNormalization|WeightNorm", "set weight_norm: true on the layer it wraps: - {{type: Conv1d, "
     "out_channels: 64, kernel_size: 3, weight_norm: true}}"),
    (r"(?:Scaled)?StdConv([123])d", "set weight_standardization on the conv: - {{type: Conv{n}d, "
     "out_channels: 64, kernel_size: 3, weight_standardization: true}} (StdConv; ScaledStdConv: "
     "weight_standardization: {{gain: true}})"),
    (r"MaskedConv([123])d", "set mask on the conv: - {{type: Conv{n}d, out_channels: 64, kernel_size: 7, padding: 3, "
     "mask: A}} (B for every layer after the first)"),
    (r"Mamba2(?:Mixer)?", "specc writes Mamba-1's mixer, - {{type: Mamba, d_state: 16}}; Mamba-2's SSD mixer (headdim, "
     "ngroups, chunk_size, a scalar decay per head) is not a layer kind yet"),
    (r"Mamba(?:Block|Layer)", "define the block under blocks: as Hugging Face's MambaBlock is, layers: - {{type: "
     "RMSNorm}}, - {{type: Mamba, name: mixer}}, - {{type: Add, from: [mixer, input]}}; then repeat: it"),
    (r"MaskedLinear", "set made on the Linear (MADE's mask, nflows' MaskedLinear): - {{type: Linear, out_features: "
     "500, made: {{features: 784, role: hidden}}}} (role input for the first layer, output for the last)"),
)


def elsewhere(name: str) -> str | None:
    """How a spec writes another framework's layer ``name`` (Keras' BatchNormalization,
    PyTorch's LazyLinear), or None."""
    import re

    for pattern, hint in ELSEWHERE:
        m = re.fullmatch(pattern, name)
        if m is not None:
            n = next((g for g in m.groups() if g and g.isdigit()), "")
            inner = next((g for g in m.groups() if g and not g.isdigit()), "")
            return hint.format(n=n, m=inner)
    return None
