"""The study's three models as presets, the model we ship, and the Keras builders behind them.

Every model takes RGB pixels 0–255 at its input size and holds its own preprocessing as layers.
VGG presets are trained on cached activations of their frozen lower part (see features.py); the
full model is then assembled from the same layer objects, so training and export see one network.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fingerspell.schema import CLASSES
from fingerspell_train.backbone import PREPROCESS, preprocess_layer, vgg16_layers

NUM_CLASSES = len(CLASSES)
HEADS = ("dense", "norm-dense", "gap-mlp")


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str  # "cnn": trained end to end on pixels; "vgg": VGG16 trunk, top trained on cached features
    input_size: int
    preprocess: str
    batch_size: int
    val_batch_size: int
    epochs: int
    steps_per_epoch: int | None  # None: one pass over the training set
    learning_rate: float = 1e-3
    head: str = "dense"
    trainable_from: str | None = None  # first trainable VGG16 layer; None: the trunk is frozen
    dropout: float = 0.0
    label_smoothing: float = 0.0
    augment_views: int = 0  # cached augmented views per training image (vgg); 0: clean only
    balance: bool = False  # weight classes by inverse frequency
    warmup_epochs: int = 0  # epochs training the head alone before trainable VGG convs join
    finetune_learning_rate: float | None = None  # for the phase with convs (None: learning_rate)
    background_swap: float = 0.0  # augmented views: chance of a new background (masked roots)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("small-cnn", "cnn", 64, "rescale", 20, 20, 20, 50,
               description="study: Conv32-MaxPool-Conv32-Conv16-Conv16-MaxPool-Flatten-Dense(29), "
                           "Adam, 20 epochs x 50 steps, batch 20"),
        Preset("small-cnn-large-batch", "cnn", 64, "rescale", 128, 64, 15, 100,
               description="study: the small CNN with batch 128 (validation 64), 15 epochs x 100 "
                           "steps"),
        Preset("vgg16", "vgg", 150, "rescale", 20, 20, 20, 50,
               description="study: frozen VGG16 without top at 150x150 + Dense(29) softmax, "
                           "pixels/255 as in the study"),
        # All of block5 trains on cached block4 activations (about 3 min an epoch on two Zen 4
        # cores); the head warms up alone first so its first gradients do not wreck block5.
        Preset("vgg16-ft", "vgg", 150, "caffe", 64, 128, 9, None, learning_rate=1e-3,
               head="norm-dense", trainable_from="block5_conv1", dropout=0.5,
               label_smoothing=0.1, augment_views=3, balance=True, warmup_epochs=2,
               finetune_learning_rate=1e-4,
               description="shipped: caffe input, block5 fine-tuned on cached block4 activations "
                           "of the clean image and 3 augmented views, normalised head, balanced "
                           "classes, 2 head-only warm-up epochs"),
    )
}

# Study settings as we reconstruct them; the study's own numbers came from a random frame split.
STUDY_PRESETS = ("small-cnn", "small-cnn-large-batch", "vgg16")


def get_preset(name: str, **overrides: Any) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    clean = {k: v for k, v in overrides.items() if v is not None}
    # Checked for every preset, including those that ignore the option (small-cnn has no head
    # choice), so that a typo is an error rather than a run that silently did something else.
    if clean.get("head", HEADS[0]) not in HEADS:
        raise ValueError(f"unknown head {clean['head']!r}; choose one of {', '.join(HEADS)}")
    if clean.get("preprocess", PREPROCESS[0]) not in PREPROCESS:
        raise ValueError(f"unknown preprocessing {clean['preprocess']!r}; "
                         f"choose one of {', '.join(PREPROCESS)}")
    return replace(PRESETS[name], **clean)


def build_small_cnn(preset: Preset) -> Any:
    import keras
    from keras import layers

    s = preset.input_size
    inp = keras.Input((s, s, 3), name="pixels")
    x = preprocess_layer(preset.preprocess)(inp)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(32, 3, activation="relu", name="conv2")(x)
    x = layers.Conv2D(16, 3, activation="relu", name="conv3")(x)
    x = layers.Conv2D(16, 3, activation="relu", name="conv4")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    out = layers.Dense(NUM_CLASSES, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name=preset.name)


def head_layers(head: str, dropout: float) -> list[Any]:
    from keras import layers

    out_layer = layers.Dense(NUM_CLASSES, activation="softmax", name="predictions")
    if head == "dense":
        return [layers.Flatten(name="flatten"), out_layer]
    if head == "norm-dense":
        # block5 activations reach the hundreds: normalise before the classifier.
        return [layers.Flatten(name="flatten"), layers.BatchNormalization(name="head_norm"),
                layers.Dropout(dropout, name="head_dropout"), out_layer]
    if head == "gap-mlp":
        return [layers.GlobalAveragePooling2D(name="gap"),
                layers.BatchNormalization(name="head_norm"),
                layers.Dense(256, activation="relu", name="head_fc"),
                layers.Dropout(dropout, name="head_dropout"), out_layer]
    raise ValueError(f"unknown head {head!r}; choose one of {', '.join(HEADS)}")


@dataclass
class VGGParts:
    """One set of layers seen three ways: the whole model, the cached lower part, and the top."""

    full: Any
    lower: Any  # pixels -> cache_layer output (frozen, run once per image and cached)
    top: Any  # cache_layer output -> probabilities (trained)
    cache_layer: str
    top_layers: list[Any] = field(default_factory=list)


def cache_layer_for(trainable_from: str | None) -> str:
    """Cache the output of the pool before the first trainable block (block4_pool if frozen)."""
    if trainable_from is None:
        return "block4_pool"
    block = int(trainable_from.split("_")[0].removeprefix("block"))
    if block < 2:
        raise ValueError("training from block1 leaves nothing to cache; use a cnn preset")
    return f"block{block - 1}_pool"


def build_vgg(preset: Preset) -> VGGParts:
    import keras

    s = preset.input_size
    trunk = vgg16_layers()
    names = [layer.name for layer in trunk]
    cache_layer = cache_layer_for(preset.trainable_from)
    cut = names.index(cache_layer) + 1
    head = head_layers(preset.head, preset.dropout)
    pre = preprocess_layer(preset.preprocess)

    inp = keras.Input((s, s, 3), name="pixels")
    x = pre(inp)
    for layer in trunk[:cut]:
        x = layer(x)
    lower = keras.Model(inp, x, name="lower")
    feat_in = keras.Input(tuple(x.shape[1:]), name="features")
    y = feat_in
    for layer in trunk[cut:] + head:
        y = layer(y)
    top = keras.Model(feat_in, y, name="top")
    z = lower.output
    for layer in trunk[cut:] + head:
        z = layer(z)
    full = keras.Model(inp, z, name=preset.name)

    frozen = True
    for layer in trunk:
        if layer.name == preset.trainable_from:
            frozen = False
        layer.trainable = not frozen
    return VGGParts(full, lower, top, cache_layer, trunk[cut:] + head)
