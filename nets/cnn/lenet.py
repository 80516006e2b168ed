"""LeNet-5 as in the lecture, with its 61,706 parameters."""

import flax.linen as nn
import jax
import jax.numpy as jnp

from nets.checks import check_image, check_positive
from nets.cnn.layers import ConvBlock, DenseBlock, Pool


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) in the lecture's form; returns logits.

    ====================  =================  ==========================
    layer                 output shape       parameters
    ====================  =================  ==========================
    input                 32 x 32 x 1
    conv1: 6 @ 5x5        28 x 28 x 6        (5*5*1 + 1) * 6   =    156
    pool1: 2x2, stride 2  14 x 14 x 6
    conv2: 16 @ 5x5       10 x 10 x 16       (5*5*6 + 1) * 16  =  2,416
    pool2: 2x2, stride 2  5 x 5 x 16
    flatten               400
    fc1                   120                (400 + 1) * 120   = 48,120
    fc2                   84                 (120 + 1) * 84    = 10,164
    output                num_outputs = 10   (84 + 1) * 10     =    850
    total                                                        61,706
    ====================  =================  ==========================

    ``pooling='max'`` is the lecture's; ``'avg'`` is closer to the original's subsampling.
    ``activation`` is the hidden layers' f ('relu' as in the lecture; the 1998 paper used a
    scaled tanh). Each layer's output is sown into the ``'intermediates'`` collection as
    ``<layer>_output`` (apply with ``mutable=['intermediates']`` to read the feature maps).
    Input: [batch, 32, 32, C].
    """

    num_outputs: int = 10
    pooling: str = "max"
    activation: str = "relu"

    @nn.compact
    def __call__(self, images: jax.Array, *, train: bool = False) -> jax.Array:
        del train  # no dropout or BatchNorm: the same call as every model of the registry
        check_image("LeNet5 input", images)
        if jnp.shape(images)[1:3] != (32, 32):
            raise ValueError(
                f"LeNet5 expects 32 x 32 images [batch, 32, 32, channels], got shape "
                f"{jnp.shape(images)}; pad smaller images (28 x 28 MNIST: 2 pixels each side)"
            )
        check_positive("num_outputs", self.num_outputs)
        act = self.activation
        x = self._record("conv1", ConvBlock(6, 5, activation=act, name="conv1")(images))
        x = self._record("pool1", Pool(self.pooling, name="pool1")(x))
        x = self._record("conv2", ConvBlock(16, 5, activation=act, name="conv2")(x))
        x = self._record("pool2", Pool(self.pooling, name="pool2")(x))
        x = self._record("flatten", x.reshape(x.shape[0], -1))
        x = self._record("fc1", DenseBlock(120, act, name="fc1")(x))
        x = self._record("fc2", DenseBlock(84, act, name="fc2")(x))
        return self._record("output", DenseBlock(self.num_outputs, "identity", name="output")(x))

    def _record(self, layer: str, x: jax.Array) -> jax.Array:
        """Sow a layer's output as ``intermediates[layer + '_output']`` for inspection."""
        self.sow("intermediates", f"{layer}_output", x)
        return x
