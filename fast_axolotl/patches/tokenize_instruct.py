"""Replacement for ``axolotl.datasets.TokenizedPromptDataset.process`` on Axolotl's
instruction strategies (alpaca and its family): one tokenizer call per batch of 1,000 rows
instead of two per row, and the columns assembled in Rust.

What runs per batch, in Axolotl's row order:

1. Axolotl's own ``parse_instruction_fields`` and prompter (``build_prompt`` /
   ``build_prompt_w_system``) build each row's user prompt and response, so the strings are
   Axolotl's by construction.
2. Every non-empty text of the batch goes to the user's tokenizer object in ONE call, with
   the arguments ``_tokenize`` passes (``truncation=True, max_length=strategy.max_length,
   padding=False, return_tensors=None``). For a ``transformers`` fast tokenizer that does
   not override the call path, a list input runs the same ``encode_batch`` the single
   string does (a batch of one), so the ids are the same. From 1,000 rows per process on,
   the same tokenizer loaded into the extension encodes instead, checked per batch against
   the tokenizer object (``_native_encoding``).
3. ``_native.instruct_columns`` applies ``_tokenize``'s EOS/BOS rules and the label rule,
   and writes ``input_ids`` (int32), ``attention_mask`` (int8) and ``labels`` (int64):
   the types ``datasets``' writer gives the lists Axolotl returns.
4. Axolotl's log lines are emitted for the same rows, with the same logger, message and
   caller information; a row on which Axolotl raises raises the same exception.

The mapped dataset gets the fingerprint Axolotl's ``map`` call computes (the same hash of
the same function and arguments), so ``datasets``' cache files have the same names and are
reused across both paths.

Everything that is not reproduced is decided before the tokenizer is called and handed to
Axolotl's ``process`` (see ``_plan``).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from collections.abc import Callable
from typing import Any

from fast_axolotl import _native
from fast_axolotl.patches import chat_template
from fast_axolotl.patches._batches import list_columns_table
from fast_axolotl.patches._common import Defer
from fast_axolotl.patches._native_encoding import NativeEncoding
from fast_axolotl.patches._propagate import Propagate, replacement_propagating

#: Rows per batch: Axolotl's per-row ``map`` writes 1,000-row record batches
#: (``writer_batch_size``), so batches of the same size give the same Arrow layout.
BATCH_SIZE = 1000

#: Below this many rows Axolotl's per-row path is taken. Measured (docs/benchmarks.md,
#: "Tokenize, instruction strategies"): from one row on, one batched call costs no more
#: CPU than Axolotl's two per-row calls (both paths pay the same fingerprint hash), so the
#: fast path starts at the first row. The differential tests pin it to 0.
MIN_ROWS = 0

_PT = "axolotl.prompt_tokenizers"
_SYS = "axolotl.prompt_strategies.alpaca_w_system"
_CHAT = "axolotl.prompt_strategies.alpaca_chat"
_PROMPTERS = "axolotl.prompters"

#: Strategy classes whose ``parse_instruction_fields`` we call, with the columns it may
#: read (each must be a string column when present; ``choices`` a list of strings) and the
#: ones it reads unconditionally. Subclasses are not listed: they may change anything.
_STRATEGIES: dict[tuple[str, str], tuple[str, dict[str, str], tuple[str, ...]]] = {
    (_PT, "AlpacaPromptTokenizingStrategy"): (
        "instruction",
        {"instruction": "s", "input": "s", "output": "s"},
        ("instruction", "output"),
    ),
    (_PT, "AlpacaMultipleChoicePromptTokenizingStrategy"): (
        "instruction",
        {"question": "s", "choices": "ls", "solution": "s", "explanation": "s"},
        ("question", "choices"),
    ),
    (_PT, "JeopardyPromptTokenizingStrategy"): (
        "instruction",
        {"question": "s", "category": "s", "answer": "s"},
        ("question", "category", "answer"),
    ),
    (_PT, "OpenAssistantPromptTokenizingStrategy"): (
        "instruction",
        {"INSTRUCTION": "s", "RESPONSE": "s"},
        ("INSTRUCTION", "RESPONSE"),
    ),
    (_PT, "SummarizeTLDRPromptTokenizingStrategy"): (
        "instruction",
        {"article": "s", "summary": "s"},
        ("article", "summary"),
    ),
    (_PT, "GPTeacherPromptTokenizingStrategy"): (
        "instruction",
        {"instruction": "s", "input": "s", "response": "s"},
        ("instruction", "response"),
    ),
    (_PT, "NomicGPT4AllPromptTokenizingStrategy"): (
        "instruction",
        {"prompt": "s", "response": "s"},
        ("prompt", "response"),
    ),
    (_CHAT, "AlpacaQAPromptTokenizingStrategy"): (
        "instruction",
        {"question": "s", "answer": "s"},
        ("question", "answer"),
    ),
    (_CHAT, "CamelAIPromptTokenizingStrategy"): (
        "instruction",
        {"message_1": "s", "message_2": "s"},
        ("message_1", "message_2"),
    ),
    (_SYS, "InstructionWSystemPromptTokenizingStrategy"): (
        "system",
        {"instruction": "s", "input": "s", "output": "s", "system": "s"},
        ("instruction", "output", "system"),
    ),
    (_SYS, "OpenOrcaPromptTokenizingStrategy"): (
        "system",
        {"question": "s", "response": "s", "system_prompt": "s"},
        ("question", "response", "system_prompt"),
    ),
}

#: Prompter classes whose ``build_prompt`` / ``build_prompt_w_system`` we call.
_PROMPTER_CLASSES = {
    (_PROMPTERS, "AlpacaPrompter"),
    (_PROMPTERS, "UnpromptedPrompter"),
    (_PROMPTERS, "JeopardyPrompter"),
    (_PROMPTERS, "MultipleChoiceExplainPrompter"),
    (_PROMPTERS, "MultipleChoiceConcisePrompter"),
    (_PROMPTERS, "SummarizeTLDRPrompter"),
    (_PROMPTERS, "GPTeacherPrompter"),
    (_PROMPTERS, "NomicGPT4AllPrompter"),
    (_CHAT, "AlpacaConcisePrompter"),
    (_CHAT, "AlpacaChatPrompter"),
    (_CHAT, "NoSystemPrompter"),
    (_SYS, "SystemDataPrompter"),
    (_SYS, "OpenOrcaSystemDataPrompter"),
}

#: The Axolotl functions whose rules this module reproduces (the rest it calls), with the
#: code fingerprints (fast_axolotl.guards) of the bodies reproduced.
_REPRODUCED = {
    (_PT, "PromptTokenizingStrategy._tokenize"): {"cb8fe5618979760b"},
    (_PT, "InstructionPromptTokenizingStrategy.tokenize_prompt"): {"e96f4320992da574"},
    (_SYS, "InstructionWSystemPromptTokenizingStrategy.tokenize_prompt"): {"dce0123aa11996b1"},
}

#: The ``transformers`` methods a fast tokenizer's call goes through; a tokenizer class
#: that overrides one of them may encode a list differently from single strings.
_CALL_PATH = (
    "__call__",
    "_encode_plus",
    "_convert_encoding",
    "set_truncation_and_padding",
    "_get_padding_truncation_strategies",
    "_switch_to_input_mode",
)

_EMPTY_TEXT = "Empty text requested for tokenization."
_EMPTY_RESULT = "Tokenizer result is empty. You may want to audit your dataset"


def _resolve(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


@functools.lru_cache(maxsize=1)
def _known() -> tuple[dict[type, tuple[str, dict[str, str], tuple[str, ...]]], frozenset[type]]:
    """The strategy and prompter classes, once their reproduced bodies are checked."""
    from fast_axolotl.guards import fingerprint

    for (module, qualname), accepted in _REPRODUCED.items():
        func = inspect.unwrap(_resolve(module, qualname))
        if fingerprint(func) not in accepted:
            raise Defer  # a changed body: every call takes Axolotl's path
    strategies = {_resolve(m, q): spec for (m, q), spec in _STRATEGIES.items()}
    prompters = frozenset(_resolve(m, q) for m, q in _PROMPTER_CLASSES)
    return strategies, prompters


@functools.lru_cache(maxsize=1)
def _caller_info() -> tuple[str, int, int]:
    """Where Axolotl's ``_tokenize`` logs "Tokenizer result is empty": (path, line), and
    the line of its ``warning_once`` (unused: that record's caller is the logging helper)."""
    func = inspect.unwrap(_resolve(_PT, "PromptTokenizingStrategy._tokenize"))
    lines, first = inspect.getsourcelines(func)
    found = [i for i, line in enumerate(lines) if "LOG.warning(" in line and "empty" in line]
    if len(found) != 1:
        raise Defer
    return inspect.getsourcefile(func) or "", first + found[0], first


def _string_type(feature: Any) -> bool:
    from datasets import Value

    return type(feature) is Value and feature.dtype in ("string", "large_string")


def _string_list_type(feature: Any) -> bool:
    from datasets import List, Sequence

    if type(feature) is List or type(feature) is Sequence:
        return _string_type(feature.feature)
    return type(feature) is list and len(feature) == 1 and _string_type(feature[0])


def _fast_tokenizer(tok: Any) -> None:
    """Defer unless ``tok`` is a ``transformers`` fast tokenizer whose call path is the
    library's own and whose output is exactly ``input_ids`` and ``attention_mask``."""
    try:
        from transformers import PreTrainedTokenizerFast
    except ImportError:  # pragma: no cover - Axolotl requires transformers
        raise Defer from None
    if not isinstance(tok, PreTrainedTokenizerFast):
        raise Defer  # slow (Python) tokenizers, mistral-common, custom objects
    cls = type(tok)
    for name in _CALL_PATH:
        if name in vars(tok):
            raise Defer
        own = getattr(cls, name, None)
        base = None
        for klass in PreTrainedTokenizerFast.__mro__:
            if name in vars(klass):
                base = vars(klass)[name]
                break
        if own is not base:
            raise Defer
    if list(tok.model_input_names) != ["input_ids", "attention_mask"]:
        raise Defer  # e.g. token_type_ids, which Axolotl keeps at the prompt's length
    if type(tok.eos_token_id) is not int:
        raise Defer  # None would be appended as a token by Axolotl
    if tok.bos_token_id is not None and type(tok.bos_token_id) is not int:
        raise Defer


def _check_dataset(dataset: Any) -> None:
    """Defer unless ``dataset`` is a plain, unformatted, non-empty ``datasets.Dataset``."""
    import datasets

    if type(dataset) is not datasets.Dataset or len(dataset) < max(MIN_ROWS, 1):
        raise Defer
    if dataset._format_type is not None:
        raise Defer  # the rows would be numpy/torch/... objects


def _plan(self: Any, dataset: Any) -> tuple[str, tuple[str, ...], bool]:
    """Checks everything the fast path needs, before any user code runs; Defer otherwise.
    Returns (kind, columns to read, train_on_inputs)."""
    _check_dataset(dataset)
    strategy = self.prompt_tokenizer
    strategies, prompters = _known()
    spec = strategies.get(type(strategy))
    if spec is None:
        raise Defer  # a subclass or another strategy family
    kind, reads, required = spec
    own = vars(strategy)
    if any(
        name in own
        for name in ("tokenize_prompt", "_tokenize", "parse_instruction_fields", "supports_batched")
    ):
        raise Defer
    if getattr(strategy, "filter_rows", None):
        raise Defer
    if strategy.supports_batched is not False:
        raise Defer
    prompter = strategy.prompter
    if type(prompter) not in prompters or any(
        name in vars(prompter)
        for name in ("build_prompt", "build_prompt_w_system", "_build_result")
    ):
        raise Defer
    if type(strategy.train_on_inputs) not in (bool, type(None)):
        raise Defer
    max_length = strategy.max_length
    if type(max_length) is not int or max_length < 1:
        raise Defer
    _fast_tokenizer(strategy.tokenizer)
    features = dataset.features
    for name in required:
        if name not in features:
            raise Defer  # Axolotl raises KeyError on the first row: let it
    if kind == "instruction" and type(strategy).__name__.startswith("AlpacaMultipleChoice"):
        if "solution" not in features and "explanation" not in features:
            raise Defer
    columns = []
    for name, want in reads.items():
        if name not in features:
            continue
        ok = _string_list_type(features[name]) if want == "ls" else _string_type(features[name])
        if not ok:
            raise Defer  # non-string values would reach the tokenizer unformatted
        columns.append(name)
    _caller_info()
    return kind, tuple(columns), bool(strategy.train_on_inputs)


def _axolotl_fingerprint(dataset: Any, function: Any, keep_in_memory: Any, batched: bool) -> str:
    """The fingerprint ``dataset.map`` computes for Axolotl's call in ``process``
    (``batched``: the call with ``batched=True, batch_size=1_000`` of batched strategies)."""
    from datasets.arrow_dataset import Dataset
    from datasets.fingerprint import (
        format_kwargs_for_fingerprint,
        format_transform_for_fingerprint,
        update_fingerprint,
    )

    dataset_kwargs = {
        "shard": dataset,
        "function": function,
        "with_indices": False,
        "with_rank": False,
        "input_columns": None,
        "batched": batched,
        "batch_size": 1000,
        "drop_last_batch": False,
        "remove_columns": dataset.features.keys(),
        "keep_in_memory": keep_in_memory,
        "writer_batch_size": 1000,
        "features": None,
        "disable_nullable": False,
        "fn_kwargs": {},
        "try_original_type": True,
        "on_mixed_types": "use_json",
    }
    transform = format_transform_for_fingerprint(Dataset._map_single)
    kwargs = format_kwargs_for_fingerprint(Dataset._map_single, (), dataset_kwargs)
    kwargs["fingerprint_name"] = "new_fingerprint"
    return str(update_fingerprint(dataset._fingerprint, transform, kwargs))


def _emit_empty_result(log: Any) -> None:
    """``LOG.warning(_EMPTY_RESULT)`` as if issued inside Axolotl's ``_tokenize``."""
    if not (log.isEnabledFor(logging.WARNING) and log._should_log(True)):
        return
    path, line, _ = _caller_info()
    logger = log.logger
    record = logger.makeRecord(
        logger.name, logging.WARNING, path, line, _EMPTY_RESULT, (), None, "_tokenize", {}
    )
    logger.handle(record)


def tokenize_batch(
    batch: Any,
    strategy: Any,
    kind: str,
    columns: tuple[str, ...],
    train: bool,
    encoder: NativeEncoding,
) -> Any:
    """The batch function of the fast ``process``: Axolotl's rows for ``batch`` as a
    ``pa.Table`` (see module docstring)."""
    import pyarrow as pa

    values = [batch[c] for c in columns]
    parse = strategy.parse_instruction_fields
    prompter = strategy.prompter
    prompts: list[Any] = []
    responses: list[Any] = []
    failed: tuple[Exception, Any] | None = None
    for row in zip(*values, strict=True):
        example = dict(zip(columns, row, strict=True))
        try:
            if kind == "system":
                instruction, inp, response, system = parse(example)
                prompt = next(iter(prompter.build_prompt_w_system(system, instruction, inp)))
            else:
                instruction, inp, response = parse(example)
                prompt = next(iter(prompter.build_prompt(instruction, inp)))
        except Exception as exc:
            # Axolotl raises on this row before tokenizing it; the rows before it are
            # tokenized (for their log lines) and then Axolotl's own code raises.
            failed = (exc, example)
            break
        prompts.append(prompt)
        responses.append(response)
    rows = len(prompts)
    texts: list[str] = []
    prompt_ix: list[int] = []
    response_ix: list[int] = []
    for part, ix in ((prompts, prompt_ix), (responses, response_ix)):
        for text in part:
            if text:
                if type(text) is not str:
                    raise _NotReproduced
                ix.append(len(texts))
                texts.append(text)
            else:
                ix.append(-1)
    tok = strategy.tokenizer
    native = encoder.encode(tok, texts, strategy.max_length) if texts else None
    if native is not None:
        lengths = native.lengths().tolist()
    elif texts:
        encoded = tok(
            texts,
            truncation=True,
            max_length=strategy.max_length,
            padding=False,
            return_tensors=None,
        )
        ids, mask = encoded["input_ids"], encoded["attention_mask"]
        lengths = [len(x) for x in ids]
    else:
        ids, mask, lengths = [], [], []
    log = importlib.import_module(_PT).LOG
    if -1 in prompt_ix or -1 in response_ix or not all(lengths):
        for p, q in zip(prompt_ix, response_ix, strict=True):
            for t in (p, q):
                if t < 0:
                    log.warning_once(_EMPTY_TEXT)
                elif not lengths[t]:
                    _emit_empty_result(log)
            if train and (p < 0 or not lengths[p]):
                raise KeyError("labels")  # Axolotl: `tokenized_prompt["labels"] +=` on `empty`
    if failed is not None:
        error, example = failed
        type(strategy).tokenize_prompt(strategy, example)  # raises Axolotl's own error
        raise error  # pragma: no cover - the same deterministic parse failed just above
    rules = (tok.eos_token_id, tok.bos_token_id, strategy.max_length, train)
    if native is not None:
        columns_out = native.instruct_columns(prompt_ix, response_ix, rules)
    else:
        columns_out = _native.instruct_columns(ids, mask, prompt_ix, response_ix, rules)
    offsets, id_values, mask_values, label_values = columns_out
    if len(id_values) == 0:
        # No token in the whole batch: ``datasets`` infers list<null> from empty lists.
        empty = pa.array([[] for _ in range(rows)])
        return pa.table({"input_ids": empty, "attention_mask": empty, "labels": empty})
    return list_columns_table(
        offsets,
        {"input_ids": id_values, "attention_mask": mask_values, "labels": label_values},
    )


class _NotReproduced(Exception):
    """Raised inside a batch before the tokenizer ran: Axolotl's per-row code takes it."""


def _guarded_batch(
    batch: Any,
    strategy: Any,
    kind: str,
    columns: tuple[str, ...],
    train: bool,
    encoder: NativeEncoding,
) -> Any:
    try:
        return tokenize_batch(batch, strategy, kind, columns, train, encoder)
    except _NotReproduced:
        pass
    # Axolotl's per-row function over this batch, as ``map`` would have called it.
    keys = list(batch.keys())
    rows = zip(*(batch[k] for k in keys), strict=True)
    out: dict[str, list[Any]] = {}
    for row in rows:
        result = strategy.tokenize_prompt(dict(zip(keys, row, strict=True)))
        for k, v in result.items():
            out.setdefault(k, []).append(v)
    return out


def _map(self: Any, dataset: Any, function: Any, batched: bool) -> Any:
    """Axolotl's ``dataset.map`` of ``tokenize_prompt`` (``batched``: the strategy's
    batched form), with ``function`` computing the batches and Axolotl's fingerprint."""
    strategy = self.prompt_tokenizer
    fingerprint = _axolotl_fingerprint(
        dataset, strategy.tokenize_prompt, self.keep_in_memory, batched
    )
    try:
        return dataset.map(
            function,
            batched=True,
            batch_size=BATCH_SIZE,
            num_proc=self.process_count,
            remove_columns=dataset.features.keys(),
            keep_in_memory=self.keep_in_memory,
            desc="Tokenizing Prompts",
            new_fingerprint=fingerprint,
        )
    except Exception as exc:
        # The tokenizer has run: its errors and Axolotl's surface as they are.
        raise Propagate(exc) from None


def process(original: Callable[..., Any], variant: str | None) -> Callable[..., Any]:
    """Mirrors ``axolotl.datasets.TokenizedPromptDataset.process`` (0.19) for Axolotl's
    instruction strategies (alpaca, alpaca_chat's, alpaca_w_system's, jeopardy, oasst,
    gpteacher, summarizetldr, nomic, multiple-choice) on a fast ``transformers`` tokenizer.

    Axolotl's ``ChatTemplateStrategy``, when its ``tokenize_prompt`` entry is active, keeps
    Axolotl's batched map of that method with each batch written as an Arrow table
    (``chat_template.table_batches``).

    Defers to Axolotl for: any other strategy or a subclass, an overridden method on the
    strategy or prompter instance, ``filter_rows``, a format set on the dataset, an empty
    dataset, non-string text columns, slow tokenizers or tokenizer classes that override
    the call path, tokenizers that also return ``token_type_ids``, a missing EOS id, a
    non-int ``max_length``, and a changed body of ``_tokenize`` / ``tokenize_prompt``.
    Exceptions of the tokenizer and Axolotl's own errors surface once, unchanged.
    """

    def fast(self: Any, dataset: Any) -> Any:
        strategy = self.prompt_tokenizer
        chat_batches = chat_template.table_batches(strategy)
        if chat_batches is not None:
            # Axolotl maps the strategy's batched ``tokenize_prompt``; its batches are
            # written as Arrow tables instead of lists (see ``chat_template``).
            _check_dataset(dataset)
            return _map(self, dataset, chat_batches, batched=True)
        kind, columns, train = _plan(self, dataset)
        shards = self.process_count if type(self.process_count) is int else 1
        vocab = strategy.tokenizer.backend_tokenizer.get_vocab_size(with_added_tokens=True)
        encoder = NativeEncoding(len(dataset) // max(shards, 1), vocab)
        function = functools.partial(
            _guarded_batch,
            strategy=strategy,
            kind=kind,
            columns=columns,
            train=train,
            encoder=encoder,
        )
        return _map(self, dataset, function, batched=False)

    return replacement_propagating(original, fast)
