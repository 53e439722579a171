"""Replacements for the collators of ``axolotl.utils.collators.batching``.

Axolotl's collators concatenate and pad in Python, then hand the batch to
``tokenizer.pad`` of ``transformers``, which turns numpy arrays back into Python lists,
pads those list by list and builds the tensors from nested lists. Here one native call
(``_native.pad_batch``) reads the feature dicts and writes every padded key straight into
its output buffer: the memory of a ``torch.empty`` CPU tensor for ``"pt"`` (an ordinary,
resizable tensor, as ``torch.tensor`` makes; ``torch.from_numpy`` would not be resizable)
or an ``np.empty`` array for ``"np"``.

What is reproduced, quirks included (Axolotl 0.19, transformers 5):

- ``labels`` / ``position_ids`` are padded by Axolotl to their own longest row rounded up to
  ``pad_to_multiple_of``, whatever ``padding`` / ``max_length`` say; ``position_ids`` with
  ``0..k`` (``position_pad_token_id`` is not used); the padded values are written back into
  the caller's feature dicts (a new list, or a new int64 array) as Axolotl does;
- ``input_ids`` / ``attention_mask`` / ``token_type_ids`` are padded as ``tokenizer.pad`` pads
  them (its ``padding_side``, ``pad_token_id``, ``pad_token_type_id``; a row longer than
  ``max_length`` is left as it is);
- an ``attention_mask`` added by ``tokenizer.pad`` is removed again; V2 / pretraining
  attention masks become segment ids ``i + 1`` counting every item of the bin; ``length``
  is dropped by the packed collators; ``squash_position_ids``;
- output keys in the order of the first feature, int64 for both ``"pt"`` and ``"np"``.

Every other input goes to Axolotl's original: other keys, ``return_tensors`` other than
``"pt"`` / ``"np"``, a model with ``prepare_decoder_input_ids_from_labels``, a tokenizer
whose ``pad`` / ``_pad`` is not transformers' own or whose main input is not ``input_ids``,
a ``padding`` / ``max_length`` / ``pad_to_multiple_of`` that warns or raises, values that are
not Python lists of ints or 1-d int32/int64 numpy arrays (tensors, tuples, floats, bools),
lists mixed with arrays where ``tokenizer.pad`` would not convert them, empty sequences in a
bin, ragged results, an active torch function mode (``torch.set_default_device``), and a
``transformers`` whose padding code differs from the one
reproduced here.
"""

from __future__ import annotations

import hashlib
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from fast_axolotl import _native
from fast_axolotl.patches._common import Defer, replacement

_KEYS = frozenset({"input_ids", "attention_mask", "token_type_ids", "labels", "position_ids"})
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1

#: Fingerprints (``fast_axolotl.guards.fingerprint``: source tokens) of the transformers
#: code whose behaviour ``pad_batch`` reproduces (transformers 5.16).
_TRANSFORMERS_FINGERPRINTS = {
    "PreTrainedTokenizerBase.pad": "bc9e3620862b2ad0",
    "PreTrainedTokenizerBase._pad": "44f25643be4cd323",
    "PreTrainedTokenizerBase._get_padding_truncation_strategies": "f010b72fd9b72adb",
    "BatchEncoding.convert_to_tensors": "da10758cdc73d8ab",
    "to_py_obj": "4b77d395c6ca0288",
}

#: The same functions' bytecode digests (``_code_digest``) per Python version: a shortcut
#: of microseconds where the source fingerprints take ~40 ms (reading and tokenizing the
#: source). Unknown digests fall back to the source fingerprints.
_CODE_DIGESTS: dict[tuple[int, int], str] = {
    (3, 11): "39a6014637689fee",
}


def _code_digest(funcs: list[Any]) -> str:
    h = hashlib.sha256()

    def add(code: types.CodeType) -> None:
        h.update(code.co_code)
        h.update(repr((code.co_names, code.co_varnames, code.co_freevars)).encode())
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                add(const)
            elif isinstance(const, frozenset):  # iteration order follows str hashing
                h.update(repr(sorted(map(repr, const))).encode())
            else:
                h.update(repr(const).encode())

    for f in funcs:
        add(f.__code__)
    return h.hexdigest()[:16]


class _Transformers:
    """What this module needs from transformers, checked once per process."""

    ok: bool | None = None
    base: Any = None
    batch_encoding: Any = None
    large_integer: int = 0
    padding_strategy: Any = None
    tokenizer_types: dict[type, bool] = {}  # noqa: RUF012 - a per-process cache

    @staticmethod
    def functions(tub: Any, generic: Any) -> dict[str, Any]:
        base = tub.PreTrainedTokenizerBase
        return {
            "PreTrainedTokenizerBase.pad": base.pad,
            "PreTrainedTokenizerBase._pad": base._pad,
            "PreTrainedTokenizerBase._get_padding_truncation_strategies": (
                base._get_padding_truncation_strategies
            ),
            "BatchEncoding.convert_to_tensors": tub.BatchEncoding.convert_to_tensors,
            "to_py_obj": generic.to_py_obj,
        }

    @classmethod
    def load(cls) -> bool:
        if cls.ok is None:
            tub = sys.modules.get("transformers.tokenization_utils_base")
            generic = sys.modules.get("transformers.utils.generic")
            if tub is None or generic is None:
                return False  # not imported yet (cannot happen under Axolotl); retry later
            funcs = cls.functions(tub, generic)
            ok = _code_digest(list(funcs.values())) == _CODE_DIGESTS.get(sys.version_info[:2])
            if not ok:
                from fast_axolotl.guards import fingerprint

                found = {name: fingerprint(f) for name, f in funcs.items()}
                ok = found == _TRANSFORMERS_FINGERPRINTS
            cls.base = tub.PreTrainedTokenizerBase
            cls.batch_encoding = tub.BatchEncoding
            cls.large_integer = tub.LARGE_INTEGER
            cls.padding_strategy = tub.PaddingStrategy
            cls.ok = ok
        return cls.ok

    @classmethod
    def plain_tokenizer(cls, tok: Any) -> bool:
        """transformers' own `pad`, `_pad` and strategy code, not a subclass override."""
        kind = type(tok)
        ok = cls.tokenizer_types.get(kind)
        if ok is None:
            base = cls.base
            ok = isinstance(tok, base) and all(
                getattr(kind, name, None) is getattr(base, name)
                for name in ("pad", "_pad", "_get_padding_truncation_strategies")
            )
            cls.tokenizer_types[kind] = ok
        if ok:
            attrs = getattr(tok, "__dict__", {})
            return "pad" not in attrs and "_pad" not in attrs
        return False


def _int(value: Any) -> int:
    if type(value) is not int or not _I64_MIN <= value <= _I64_MAX:
        raise Defer
    return value


def _alloc_np(rows: int, width: int) -> np.ndarray:
    return np.empty((rows, width), dtype=np.int64)


def _collate(
    collator: Any,
    features: Any,
    layout: str,
    keys: list[Any],
    return_tensors: Any,
    *,
    scale_attention_mask: bool = False,
    squash_position_ids: bool = False,
    write_back: bool = False,
) -> Any:
    if not _Transformers.load():
        raise Defer
    rt = collator.return_tensors if return_tensors is None else return_tensors
    if rt == "pt":
        pt = True
    elif rt == "np":
        pt = False
    else:
        raise Defer
    if "input_ids" not in keys:
        raise Defer  # tokenizer.pad raises its own ValueError
    for k in keys:
        if k not in _KEYS:
            raise Defer

    tok = collator.tokenizer
    if not _Transformers.plain_tokenizer(tok):
        raise Defer
    names = tok.model_input_names
    if not names or names[0] != "input_ids":
        raise Defer
    if "attention_mask" in keys and "attention_mask" not in names:
        raise Defer  # tokenizer.pad would not pad the mask
    side = tok.padding_side
    if side == "right":
        right = True
    elif side == "left":
        right = False
    else:
        raise Defer

    # transformers' _get_padding_truncation_strategies, for the arguments Axolotl passes.
    padding, max_length = collator.padding, collator.max_length
    if max_length is not None and (type(max_length) is not int or max_length < 0):
        raise Defer
    if padding is False:
        strategy = "do_not_pad"
    elif padding is True:
        if max_length is not None:
            raise Defer  # transformers warns that max_length is ignored
        strategy = "longest"
    elif isinstance(padding, str):
        try:
            strategy = _Transformers.padding_strategy(padding).value
        except ValueError:
            raise Defer from None
    else:
        raise Defer
    if strategy == "max_length" and max_length is None:
        model_max = tok.model_max_length
        if type(model_max) is not int:
            raise Defer
        if model_max > _Transformers.large_integer:
            strategy = "do_not_pad"
        else:
            max_length = model_max
    if max_length is not None and max_length > _I64_MAX:
        raise Defer
    pad_token_id = 0
    if strategy != "do_not_pad":
        if tok.pad_token is None:
            raise Defer  # transformers raises
        pad_token_id = _int(tok.pad_token_id)
        if pad_token_id < 0:
            raise Defer
    multiple = collator.pad_to_multiple_of
    if multiple is not None and (type(multiple) is not int or not 0 < multiple <= _I64_MAX):
        raise Defer
    label_pad = _int(collator.label_pad_token_id)
    pad_type_id = _int(tok.pad_token_type_id) if "token_type_ids" in keys else 0
    if "labels" in keys:
        model = collator.model
        if model is not None and hasattr(model, "prepare_decoder_input_ids_from_labels"):
            raise Defer

    alloc: Callable[[int, int], Any]
    if pt:
        import torch

        if torch._C._len_torch_function_stack():
            raise Defer  # a default device or another mode decides where tensors live
        tensors: list[Any] = []
        empty, int64 = torch.empty, torch.int64

        def alloc_tensor(rows: int, width: int) -> int:
            # The tensor's own memory: `.numpy()` would make its storage non-resizable,
            # unlike the `torch.tensor` result of Axolotl's path.
            t = empty((rows, width), dtype=int64, device="cpu")
            tensors.append(t)
            return int(t.data_ptr())

        alloc = alloc_tensor
    else:
        alloc = _alloc_np
    arrays = _native.pad_batch(
        features,
        layout,
        keys,
        alloc,
        right=right,
        strategy=strategy,
        max_length=max_length,
        multiple=multiple,
        pad_token_id=pad_token_id,
        pad_token_type_id=pad_type_id,
        label_pad_token_id=label_pad,
        scale_attention_mask=scale_attention_mask,
        squash_position_ids=squash_position_ids,
        write_back_features=write_back,
    )
    out = _Transformers.batch_encoding()
    out.data = dict(zip(keys, tensors if pt else arrays, strict=True))
    return out


def data_collator_call(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.utils.collators.batching.DataCollatorForSeq2Seq.__call__`` (0.19):
    a list of feature dicts, one row each; Axolotl's padded ``labels`` / ``position_ids``
    are written back into the dicts. Defers as listed in the module docstring."""

    def fast(self: Any, features: Any, return_tensors: Any = None) -> Any:
        if type(features) is not list or not features or type(features[0]) is not dict:
            raise Defer
        keys = list(features[0])
        return _collate(self, features, "rows", keys, return_tensors, write_back=True)

    return replacement(original, fast)


def _bins(features: Any) -> tuple[Any, list[Any]]:
    if type(features) is not list or not features:
        raise Defer
    bins = features if isinstance(features[0], list) else [features]
    first_bin = bins[0]
    if type(first_bin) is not list or not first_bin or type(first_bin[0]) is not dict:
        raise Defer
    return bins, [k for k in first_bin[0] if k != "length"]


def batch_sampler_call(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``BatchSamplerDataCollatorForSeq2Seq.__call__`` (0.19): each bin (a list of
    feature dicts) is concatenated into one row, ``length`` dropped, then padded as
    ``DataCollatorForSeq2Seq`` does. Defers on bins whose first items differ in keys and on
    empty sequences, besides the module-wide deferrals."""

    def fast(self: Any, features: Any, return_tensors: Any = None) -> Any:
        bins, keys = _bins(features)
        return _collate(self, bins, "bins", keys, return_tensors)

    return replacement(original, fast)


def v2_batch_sampler_call(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``V2BatchSamplerDataCollatorForSeq2Seq.__call__`` (0.19): as the V1 collator,
    with the attention mask of item ``i`` of a bin multiplied by ``i + 1`` (items without a
    mask count too) and, with ``squash_position_ids``, ``position_ids`` = ``0..len``."""

    def fast(self: Any, features: Any, return_tensors: Any = None) -> Any:
        bins, keys = _bins(features)
        return _collate(
            self,
            bins,
            "bins",
            keys,
            return_tensors,
            scale_attention_mask=True,
            squash_position_ids=bool(self.squash_position_ids),
        )

    return replacement(original, fast)


def pretraining_batch_sampler_call(
    original: Callable[..., Any], variant: str | None
) -> Callable[..., Any]:
    """Mirrors ``PretrainingBatchSamplerDataCollatorForSeq2Seq.__call__`` (0.19): a dict of
    key -> list of sequences concatenated into one row, ``length`` dropped, attention masks
    as segment ids ``i + 1`` when ``multipack_attn``. Defers on anything but a dict, and on
    empty columns or sequences."""

    def fast(self: Any, features: Any, return_tensors: Any = None) -> Any:
        if type(features) is not dict:
            raise Defer
        multipack = getattr(self, "multipack_attn", None)
        if multipack is None:
            raise Defer
        keys = [k for k in features if k != "length"]
        return _collate(
            self,
            features,
            "columns",
            keys,
            return_tensors,
            scale_attention_mask=bool(multipack),
        )

    return replacement(original, fast)
