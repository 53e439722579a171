"""Replacement for ``axolotl.prompt_strategies.chat_template``: one render, one encode.

Axolotl's ``ChatTemplateStrategy._tokenize_single_prompt`` (the path taken whenever
``roles_to_train``, ``train_on_eos`` or ``train_on_eot`` is set, i.e. with ``load``'s
defaults) renders and tokenizes each conversation twice (``build_prompt`` with
``tokenize=True``, then ``_build_turn_locator``'s render + encode with offsets) and renders it
twice more per trained turn (two sentinel placeholders whose text diff locates the turn).

For the templates Axolotl ships whose output is a concatenation of per-message pieces with
the content copied verbatim (``chatml``) or trimmed (``llama3``), the text of a placeholder
render is the real render with the content's span replaced by the placeholder. So the turn
spans come from one render: it is rendered once through the user's tokenizer (as Axolotl
does), checked against the piece-by-piece model that yields the content spans, and every
conversation of the batch is then encoded in ONE call of the user's tokenizer with offsets
(from 1,000 conversations per strategy and process on, by the same tokenizer loaded into
the extension and checked per batch against the tokenizer object: ``_native_encoding``).
Labels follow ``_tokenize_single_prompt`` line by line (char-span diff through Axolotl's own
``_diff_char_span``, the same bisections, the EOT/EOS search quirks, the same warnings).

Everything else defers to Axolotl before any tokenizer or template runs (see
docs/compatibility.md, "chat_template").
"""

from __future__ import annotations

import functools
import logging
import sys
import weakref
from collections.abc import Callable
from typing import Any

from fast_axolotl import _native
from fast_axolotl.patches._batches import list_columns_table
from fast_axolotl.patches._common import Defer, replacement
from fast_axolotl.patches._native_encoding import NativeEncoding

_MODULE = "axolotl.prompt_strategies.chat_template"

# Axolotl code the fast path reproduces besides ``tokenize_prompt`` (the registry guard):
# a change to any of them makes every call defer.
_HELPER_FINGERPRINTS = {
    "ChatTemplateStrategy._tokenize_single_prompt": "5475793e40aa305d",
    "ChatTemplateStrategy.find_turn": "dcfedb211bb60971",
    "ChatTemplateStrategy._find_turn_from_text": "c1c38bdfd271f1a0",
    "ChatTemplateStrategy._diff_char_span": "b7c5204a177c2fec",
    "ChatTemplateStrategy._build_turn_locator": "b49b3ff93bf885ca",
    "ChatTemplateStrategy.find_first_eos_token": "79b35293b9a4b56e",
    "ChatTemplateStrategy.find_first_eot_token": "d06fab01b8f2ebce",
    "ChatTemplateStrategy._build_dummy_turn": "7dea15be880cc170",
    "ChatTemplateStrategy.is_prompt_batched": "41f5e57bae1dc2dc",
    "ChatTemplatePrompter.build_prompt": "2421d889fb99d07b",
    "ChatTemplatePrompter.build_prompt_text": "0fd48ab99fd56c0c",
}

# Methods of the tokenizer the two paths go through; a tokenizer class that overrides any
# of them may encode differently batched than one text at a time.
_TOKENIZER_METHODS = (
    "__call__",
    "apply_chat_template",
    "_call_one",
    "_encode_plus",
    "_batch_encode_plus",
    "encode",
    "batch_encode_plus",
    "encode_plus",
    "_convert_encoding",
)

_EOS_OPTIONS = (None, False, "all", "turn", "last", "none")

_state: dict[str, Any] = {}

_LAST_TURN = (
    "Last turn is not trainable, skipping having to find the turn indices. "
    "This may cause incorrect last EOT/EOS token to be unmasked."
    "This is likely a dataset design issue. Please ensure last turn is trainable."
)


class _UserError(BaseException):
    """Carries an exception raised by the user's tokenizer/template or by Axolotl's own
    per-row code past ``replacement``'s handler (which would log it as ours and run the
    original again) to the patched function, which raises it unchanged."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


def _warning_site(func: Any, fragment: str) -> tuple[str, int, str]:
    """(file, line, function) of the ``LOG.warning(...)`` call in ``func`` whose message
    contains ``fragment``: the caller information Axolotl's records carry (its adapter's
    ``stacklevel=2`` lands on that call, the adapter's own frame being the first level)."""
    import ast
    import inspect
    import textwrap

    lines, first = inspect.getsourcelines(func)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "warning"
            and node.args
            and fragment in ast.unparse(node.args[0])
        ):
            return inspect.getsourcefile(func) or "", first + node.lineno - 1, func.__name__
    raise LookupError(fragment)


def _log_sites(module: Any) -> dict[str, tuple[str, int, str]]:
    sites = _state.get("sites")
    if sites is None:
        strategy = module.ChatTemplateStrategy
        sites = {
            "last_turn": _warning_site(strategy._tokenize_single_prompt, "Last turn is not"),
            "before": _warning_site(strategy.find_turn, "is before start boundary"),
            "same": _warning_site(strategy.find_turn, "is the same as start boundary"),
        }
        _state["sites"] = sites
    return sites


def _warn(module: Any, kind: int, turn_index: int) -> None:
    """``LOG.warning(...)`` as Axolotl's ``MultiProcessAdapter`` emits it, for the kernel's
    warning ``kind`` (0: last turn untrained, 1: end before start, 2: empty span)."""
    adapter = module.LOG
    if not (adapter.isEnabledFor(logging.WARNING) and adapter._should_log(True)):
        return
    if kind == 0:
        site, message = "last_turn", _LAST_TURN
    elif kind == 1:
        site = "before"
        message = f"Content end boundary is before start boundary for turn {turn_index}"
    else:
        site = "same"
        message = (
            f"Content end boundary is the same as start boundary for turn {turn_index}. "
            "This is likely an empty turn."
        )
    logger = adapter.logger
    pathname, lineno, func = _log_sites(module)[site]
    record = logger.makeRecord(
        logger.name, logging.WARNING, pathname, lineno, message, (), None, func, {}, None
    )
    logger.handle(record)


def _helpers_unchanged(module: Any) -> bool:
    """Fingerprints checked once per set of function objects: a helper monkeypatched later
    (by a test, a plugin, a user) is someone else's code, and the fast path then defers."""
    try:
        current = tuple(_attr(module, name) for name in _HELPER_FINGERPRINTS)
    except Exception:
        return False
    cached = _state.get("helpers")
    if cached is not None and all(a is b for a, b in zip(cached[0], current, strict=True)):
        return bool(cached[1])
    from fast_axolotl.guards import fingerprint

    try:
        ok = all(
            fingerprint(func) == expected
            for func, expected in zip(current, _HELPER_FINGERPRINTS.values(), strict=True)
        )
    except Exception:
        ok = False
    _state["helpers"] = (current, ok)
    return ok


def _attr(module: Any, dotted: str) -> Any:
    obj = module
    for part in dotted.split("."):
        obj = obj.__dict__[part] if isinstance(obj, type) else getattr(obj, part)
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    return obj


def _fast_tokenizer_base() -> Any:
    base = _state.get("tokenizer_base")
    if base is None:
        try:
            from transformers.tokenization_utils_tokenizers import TokenizersBackend as base
        except ImportError:  # pragma: no cover - older transformers
            from transformers import PreTrainedTokenizerFast as base
        _state["tokenizer_base"] = base
    return base


def _plain_fast_tokenizer(tokenizer: Any) -> bool:
    """A fast tokenizer whose encode/render entry points are transformers' own."""
    base = _fast_tokenizer_base()
    cls = type(tokenizer)
    if not isinstance(tokenizer, base) or not getattr(tokenizer, "is_fast", False):
        return False
    for name in _TOKENIZER_METHODS:
        own = getattr(cls, name, None)
        if own is not getattr(base, name, None):
            return False
    # Instance attributes shadowing the methods (monkeypatched objects) are user code.
    return not any(name in vars(tokenizer) for name in _TOKENIZER_METHODS)


def _templates() -> dict[str, Callable[[list[dict], Any], Any]]:
    """Axolotl's shipped template strings -> their piece-by-piece model."""
    table = _state.get("templates")
    if table is None:
        from axolotl.utils.chat_templates.base import _CHAT_TEMPLATES

        table = {}
        if "chatml" in _CHAT_TEMPLATES:
            table[_CHAT_TEMPLATES["chatml"]] = _model_chatml
        if "llama3" in _CHAT_TEMPLATES:
            table[_CHAT_TEMPLATES["llama3"]] = _model_llama3
        _state["templates"] = table
    return table


def _model_chatml(turns: list[dict], bos: Any) -> tuple[str, list[tuple[int, int]]]:
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for turn in turns:
        head = "<|im_start|>" + turn["role"] + "\n"
        content = turn["content"]
        start = pos + len(head)
        spans.append((start, start + len(content)))
        piece = head + content + "<|im_end|>\n"
        parts.append(piece)
        pos += len(piece)
    return "".join(parts), spans


def _model_llama3(turns: list[dict], bos: Any) -> tuple[str, list[tuple[int, int]]]:
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for index, turn in enumerate(turns):
        head = "<|start_header_id|>" + turn["role"] + "<|end_header_id|>\n\n"
        if index == 0:
            head = bos + head
        # Jinja's ``trim`` filter is ``str.strip()``; the placeholder has nothing to trim.
        content = turn["content"].strip()
        start = pos + len(head)
        spans.append((start, start + len(content)))
        piece = head + content + "<|eot_id|>"
        parts.append(piece)
        pos += len(piece)
    return "".join(parts), spans


def _train_code(option: Any) -> int:
    """``train_on_eos`` / ``train_on_eot`` as the kernel's code: Axolotl only ever compares
    them with ``"all"``, ``"turn"`` and ``"last"``; anything else never trains."""
    return {"all": 0, "turn": 1, "last": 2}.get(option, 3) if isinstance(option, str) else 3


class _Plan:
    """What one batch needs, decided before any tokenizer or template call."""

    __slots__ = ("bos", "mistral_system_quirk", "model", "rows")


def _plan(self: Any, prompt: dict[str, Any], module: Any) -> tuple[_Plan, dict[str, Any]]:
    if type(self) is not module.ChatTemplateStrategy:
        raise Defer  # MistralStrategy and user subclasses
    first = prompt.get(self.prompter.field_messages) if isinstance(prompt, dict) else None
    if isinstance(first, list) and first and isinstance(first[0], dict):
        raise Defer  # one conversation (a list of messages): not a batch, Axolotl's path
    prompter = self.prompter
    if type(prompter) is not module.ChatTemplatePrompter:
        raise Defer
    if not _helpers_unchanged(module):
        raise Defer
    try:
        _log_sites(module)
    except Exception:
        raise Defer from None
    if module.LOG.isEnabledFor(logging.DEBUG):
        raise Defer  # Axolotl's per-token debug lines are not reproduced
    if prompter.processor is not None or prompter.tokenizer is not self.tokenizer:
        raise Defer
    if not _plain_fast_tokenizer(self.tokenizer):
        raise Defer
    if prompter.chat_template_kwargs:
        raise Defer
    if prompter.message_field_training or prompter.message_field_training_detail:
        raise Defer
    if self.split_thinking:
        raise Defer
    if self.train_on_eos not in _EOS_OPTIONS or self.train_on_eot not in _EOS_OPTIONS:
        raise Defer
    if not self.roles_to_train and not self.train_on_eos and not self.train_on_eot:
        raise Defer  # the legacy two-render path
    if not isinstance(self.train_on_inputs, bool):
        raise Defer
    model = _templates().get(prompter.chat_template)
    if model is None:
        raise Defer  # a template whose placeholder renders we cannot derive from one render
    bos = getattr(self.tokenizer, "bos_token", None)
    if model is _model_llama3 and not isinstance(bos, str):
        raise Defer

    prompt = module.remove_none_values(prompt)
    if not self.supports_batched or not self.is_prompt_batched(prompt):
        raise Defer  # one conversation: nothing to batch
    field_messages = prompter.field_messages
    field_tools = prompter.field_tools
    names = list(prompt.keys())
    rows = []
    for values in zip(*prompt.values(), strict=False):
        row = dict(zip(names, values, strict=False))
        if not isinstance(row.get(field_messages), list):
            raise Defer  # JSON strings and nulls: Axolotl parses / raises and logs
        if row.get(field_tools) is not None:
            raise Defer  # tools go to the template (and through JSON parsing)
        rows.append(row)

    plan = _Plan()
    plan.model = model
    plan.bos = bos
    name_or_path = getattr(self.tokenizer, "name_or_path", None)
    if not isinstance(name_or_path, str):
        raise Defer  # Axolotl's find_turn calls .lower() on it for a first system turn
    plan.mistral_system_quirk = "mistral" in name_or_path.lower()
    threads = []
    try:
        for row in rows:
            threads.append(self.get_conversation_thread(row))
    except Exception:
        raise Defer from None  # Axolotl raises it itself, with nothing run yet
    for turns in threads:
        for turn in turns:
            if not isinstance(turn.get("role"), str) or not isinstance(turn.get("content"), str):
                raise Defer
            if "training" in turn or "training_detail" in turn:
                raise Defer
            if "reasoning_training_detail" in turn:
                raise Defer
    plan.rows = threads
    return plan, prompt


def _tokenize_batch(self: Any, prompt: Any, table: bool) -> Any:
    """The fast ``tokenize_prompt`` on one batch: its dict of lists, or (``table``, when
    the extension encoded every row and each one is labelled from its one render) a
    ``pa.Table`` of the same columns as ``datasets``' writer would store them."""
    module = sys.modules.get(_MODULE)
    if module is None:
        raise Defer
    plan, prompt = _plan(self, prompt, module)
    threads = plan.rows
    if not threads:
        return {}

    # One render per conversation, through the same call Axolotl's locator makes. A
    # template error surfaces after the rows before it are done, as in Axolotl.
    texts: list[str] = []
    spans: list[list[tuple[int, int]] | None] = []
    failure: BaseException | None = None
    for turns in threads:
        try:
            rendered = self.prompter.build_prompt_text(turns)
        except Exception as exc:
            failure = exc
            break
        model_text, model_spans = plan.model(turns, plan.bos)
        if rendered != model_text:
            spans.append(None)  # not the shape we model: Axolotl's code for this row
            texts.append("")
        else:
            spans.append(model_spans)
            texts.append(rendered)

    done = len(texts)
    encode_rows = [i for i in range(done) if spans[i] is not None]
    tokens: Any = ([], [])
    native = batch = None
    if encode_rows:
        encode_texts = [texts[i] for i in encode_rows]
        encoding = _encoding_of(self)
        encoding.add_rows(len(encode_texts))
        try:
            native = encoding.encode_with_offsets(self.tokenizer, encode_texts)
            if native is None:
                batch = self.tokenizer(
                    encode_texts, add_special_tokens=False, return_offsets_mapping=True
                )
        except Exception as exc:
            raise _UserError(exc) from None
        tokens = native if batch is None else (batch["input_ids"], batch["offset_mapping"])

    kernel_rows = encode_rows
    roles_to_train = self.roles_to_train
    train_on_inputs = self.train_on_inputs
    quirk = plan.mistral_system_quirk
    turn_specs = []
    for i in kernel_rows:
        turns = threads[i]
        turn_specs.append(
            [
                (
                    p,
                    q,
                    train_on_inputs or turn["role"] in roles_to_train,
                    quirk and index == 0 and turn["role"] == "system",
                )
                for index, (turn, (p, q)) in enumerate(zip(turns, spans[i], strict=True))
            ]
        )
    eos = self.tokenizer.eos_token_id
    rules = (
        list(module.ChatTemplateStrategy._SENTINELS),
        [] if eos is None else [eos],
        sorted(self._eot_token_ids),
        _train_code(self.train_on_eos),
        _train_code(self.train_on_eot),
        module.IGNORE_TOKEN_ID,
    )
    if table and native is not None and failure is None and len(kernel_rows) == done:
        columns = _native.chat_template_columns(
            [texts[i] for i in kernel_rows], turn_specs, native, rules
        )
        if columns is not None and len(columns[1]):
            offsets, ids, labels, warnings = columns
            for _row, kind, turn_index in warnings:
                _warn(module, kind, turn_index)
            return _arrow_table(offsets, ids, labels)
    labelled = _native.chat_template_labels(
        [texts[i] for i in kernel_rows],
        turn_specs,
        tokens,
        rules,
    )
    by_row = dict(zip(kernel_rows, labelled, strict=True))
    if not encode_rows:
        ids_lists = []
    elif batch is None:
        ids_lists = native.id_lists()
    else:
        ids_lists = batch["input_ids"]
    encoded_ids = dict(zip(encode_rows, ids_lists, strict=True))

    single = module.ChatTemplateStrategy._tokenize_single_prompt
    out_ids: list[list[int]] = []
    out_labels: list[list[int]] = []
    out_mask: list[list[int]] = []
    for i in range(done):
        result = by_row.get(i)
        if result is None:
            # Not reproduced from one render: Axolotl's own per-row code, whose
            # template renders are pure; its result joins the batch in order.
            try:
                res = single(self, _row(prompt, i))
            except Exception as exc:
                raise _UserError(exc) from None
            out_ids.append(res["input_ids"])
            out_labels.append(res["labels"])
            out_mask.append(res["attention_mask"])
            continue
        labels, warnings = result
        for kind, turn_index in warnings:
            _warn(module, kind, turn_index)
        ids = encoded_ids[i]
        out_ids.append(ids)
        out_labels.append(labels)
        out_mask.append([1] * len(ids))
    if failure is not None:
        raise _UserError(failure)
    return {"input_ids": out_ids, "labels": out_labels, "attention_mask": out_mask}


def _arrow_table(offsets: Any, ids: Any, labels: Any) -> Any:
    """``input_ids`` (int32, or int64 if an id does not fit), ``labels`` (int64) and
    ``attention_mask`` (int8, all ones), in Axolotl's key order: the Arrow ``datasets``'
    writer makes of the lists ``tokenize_prompt`` returns."""
    import numpy as np

    mask = np.ones(len(labels), np.int8)
    return list_columns_table(offsets, {"input_ids": ids, "labels": labels, "attention_mask": mask})


def tokenize_prompt(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``ChatTemplateStrategy.tokenize_prompt`` (0.19) on a batch of conversations.

    Defers (before any tokenizer or template call) for: one conversation (not batched), a
    strategy/prompter subclass (``MistralStrategy`` included), a processor, a tokenizer that
    is not transformers' plain fast tokenizer, a template other than Axolotl's ``chatml`` /
    ``llama3``, ``chat_template_kwargs``, ``message_field_training(_detail)``, per-part
    training flags, ``split_thinking``, tools, JSON-string messages, the legacy path (no
    ``roles_to_train`` / ``train_on_eos`` / ``train_on_eot``), non-string roles or contents,
    Axolotl's logger at DEBUG, and any row Axolotl would reject itself.
    """

    def fast(self: Any, prompt: dict[str, Any]) -> dict[str, Any]:
        return _tokenize_batch(self, prompt, table=False)

    patched = replacement(original, fast)

    @functools.wraps(original)
    def tokenize_prompt(self: Any, prompt: dict[str, Any]) -> Any:
        try:
            return patched(self, prompt)
        except _UserError as carried:
            error = carried.error
        raise error  # outside the handler: no context of ours is chained onto it

    tokenize_prompt.__fast_axolotl_batches__ = True  # type: ignore[attr-defined]
    return tokenize_prompt


def table_batches(strategy: Any) -> Callable[[Any], Any] | None:
    """For ``TokenizedPromptDataset.process`` (``tokenize_instruct``): the batch function
    that stands for Axolotl's ``map`` of this strategy's ``tokenize_prompt``, writing each
    batch as the Arrow table ``datasets`` would store, or None (Axolotl's ``process``).

    Taken only while this module's ``tokenize_prompt`` is the class's (its registry entry
    is active) and for exactly Axolotl's class, batched, without ``filter_rows`` and with
    nothing overridden on the instance; every batch is then planned as
    ``tokenize_prompt``'s are, and a batch the table cannot carry gets the lists.
    """
    module = sys.modules.get(_MODULE)
    if module is None or type(strategy) is not module.ChatTemplateStrategy:
        return None
    patched = module.ChatTemplateStrategy.__dict__.get("tokenize_prompt")
    if not getattr(patched, "__fast_axolotl_batches__", False):
        return None
    own = vars(strategy)
    if "tokenize_prompt" in own or "supports_batched" in own:
        return None
    if strategy.supports_batched is not True or getattr(strategy, "filter_rows", None):
        return None
    return functools.partial(_table_batch, strategy=strategy)


def _table_batch(batch: Any, strategy: Any) -> Any:
    error: BaseException | None = None
    try:
        return _tokenize_batch(strategy, batch, table=True)
    except Defer:
        pass
    except _UserError as carried:
        error = carried.error
    if error is None:
        # Not reproduced for this batch: the (patched) method, as Axolotl's map calls it.
        return strategy.tokenize_prompt(batch)
    raise error  # outside the handler: no context of ours is chained onto it


#: Per strategy object of this process: whether its conversations are encoded in the
#: extension (``NativeEncoding``), counting the rows it has encoded so far, so a small
#: dataset never pays for loading the tokenizer.
_ENCODINGS: weakref.WeakKeyDictionary[Any, NativeEncoding] = weakref.WeakKeyDictionary()


def _encoding_of(strategy: Any) -> NativeEncoding:
    try:
        return _ENCODINGS[strategy]
    except KeyError:
        pass
    except TypeError:  # not weakly referenceable or not hashable: counted per call
        return NativeEncoding(0, _vocab_size(strategy.tokenizer))
    encoding = _ENCODINGS[strategy] = NativeEncoding(0, _vocab_size(strategy.tokenizer))
    return encoding


def _vocab_size(tokenizer: Any) -> int:
    return int(tokenizer.backend_tokenizer.get_vocab_size(with_added_tokens=True))


def _row(prompt: dict[str, Any], index: int) -> dict[str, Any]:
    return {name: values[index] for name, values in prompt.items()}
