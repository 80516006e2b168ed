"""AlexNet (Krizhevsky et al. 2012) with torchvision's widths 64-192-384-256-256."""

import flax.linen as nn
import jax

from nets.checks import check_image
from nets.cnn.convolution import Conv
from nets.cnn.layers import adaptive_avg_pool


class AlexNet(nn.Module):
    """Five convolutions (11x11 stride 4, 5x5, then three 3x3) with ReLU and three 3x3 stride-2
    max pools, an adaptive average pool to 6x6, and three dense layers (4096, 4096, classes)
    with dropout: 61,100,840 parameters for 1,000 classes (torchvision's count).
    Input [batch, H, W, 3] (224 x 224 for ImageNet); ``train`` turns dropout on (needs the
    'dropout' RNG)."""

    num_outputs: int = 1000
    dropout_rate: float = 0.5

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
        check_image("AlexNet input", x)
        for features, kernel, stride, padding, pool_after in (
            (64, 11, 4, 2, True),
            (192, 5, 1, 2, True),
            (384, 3, 1, 1, False),
            (256, 3, 1, 1, False),
            (256, 3, 1, 1, True),
        ):
            x = nn.relu(Conv(features, (kernel, kernel), stride, padding=padding)(x))
            if pool_after:
                x = nn.max_pool(x, (3, 3), strides=(2, 2))
        x = adaptive_avg_pool(x, (6, 6)).reshape(x.shape[0], -1)
        for features in (4096, 4096):
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
            x = nn.relu(nn.Dense(features)(x))
        return nn.Dense(self.num_outputs)(x)
