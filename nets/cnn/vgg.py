"""VGG-11/13/16/19 (Simonyan and Zisserman 2014), optionally with BatchNorm, as torchvision."""

import flax.linen as nn
import jax

from nets.checks import check_choice, check_image
from nets.cnn.convolution import Conv
from nets.cnn.layers import adaptive_avg_pool, batch_norm

# Output channels of the 3x3 convolutions; "M" is a 2x2 max pool.
STAGES = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    13: (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    19: (
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ),
}


class VGG(nn.Module):
    """Stacks of 3x3 convolutions (padding 1) with ReLU, 2x2 max pools, an adaptive average pool
    to 7x7 and dense layers 4096-4096-classes with dropout. VGG-16 has 138,357,544 parameters,
    VGG-19 143,667,240 (1,000 classes). ``batch_norm`` adds BatchNorm after each convolution
    (its running statistics live in 'batch_stats'; ``train`` updates them)."""

    depth: int = 16
    num_outputs: int = 1000
    batch_norm: bool = False
    dropout_rate: float = 0.5

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
        check_image("VGG input", x)
        check_choice("VGG depth", str(self.depth), [str(d) for d in STAGES])
        for layer in STAGES[self.depth]:
            if layer == "M":
                x = nn.max_pool(x, (2, 2), strides=(2, 2))
                continue
            x = Conv(layer, (3, 3), padding=1)(x)
            if self.batch_norm:
                x = batch_norm(train)(x)
            x = nn.relu(x)
        x = adaptive_avg_pool(x, (7, 7)).reshape(x.shape[0], -1)
        for features in (4096, 4096):
            x = nn.relu(nn.Dense(features)(x))
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return nn.Dense(self.num_outputs)(x)
