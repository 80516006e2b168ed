"""Every model of the codebase behind one registry: ``get_model(name, num_outputs=..., **options)``.

    model = get_model("lenet5", num_outputs=10)
    model = get_model("many_to_one", num_outputs=1, cell="lstm", hidden_size=128)
    outputs = model.apply(variables, inputs, train=False)   # the same call for every model

The registry is composed from the families below it: the CNN zoo (``nets.cnn.get_model`` is
its CNN view: LeNet-5, AlexNet, VGG, GoogLeNet, ResNet, EfficientNet, the CIFAR ResNets), the
MNIST-1D baselines (``mnist1d_*``), the sequence heads (``many_to_one``, ``many_to_many``,
with a cell by name), the encoder-decoders (``encoder_decoder``,
``attention_encoder_decoder``) and the CTC speech recogniser (``ctc``). ``register_model``
adds a model of your own; every trainer builds models only through ``get_model``, so a
registered one trains with no other change.
"""

from collections.abc import Callable

import flax.linen as nn

from nets.checks import check_choice
from nets.cnn.zoo import MODELS as CNN_MODELS
from nets.models.ctc import MODELS as CTC_MODELS
from nets.models.mnist1d import MODELS as MNIST1D_MODELS
from nets.models.seq2seq import MODELS as SEQ2SEQ_MODELS
from nets.models.sequence import MODELS as SEQUENCE_MODELS
from nets.models.sequence import ManyToMany, ManyToOne, SequenceHead
from nets.registry import build, option_defaults

MODELS: dict[str, Callable[..., nn.Module]] = {
    **CNN_MODELS,
    **MNIST1D_MODELS,
    **SEQUENCE_MODELS,
    **SEQ2SEQ_MODELS,
    **CTC_MODELS,
}


def get_model(name: str, num_outputs: int, **options) -> nn.Module:
    """The model called ``name`` with ``num_outputs`` outputs. An unknown name lists the valid
    ones; an option the model does not take lists the ones it does."""
    return build(MODELS, name, num_outputs, options)


def register_model(name: str, builder: Callable[..., nn.Module]) -> None:
    """Make ``builder(num_outputs=..., **options)`` buildable as ``get_model(name, ...)``.

    The module it builds follows the contract: ``__call__(inputs, [seq_lengths,] *, train)``.
    """
    if name in MODELS:
        raise ValueError(f"model {name!r} is already registered")
    MODELS[name] = builder


def model_options(name: str) -> dict:
    """The options ``get_model(name, ...)`` takes besides ``num_outputs``, with their defaults."""
    check_choice("model", name, MODELS)
    return option_defaults(MODELS[name])


__all__ = [
    "MODELS",
    "ManyToMany",
    "ManyToOne",
    "SequenceHead",
    "get_model",
    "model_options",
    "register_model",
]
