"""What `tandem generate` and `tandem chat` share: model options, loading, and printing a turn."""

from __future__ import annotations

import argparse
import sys

from engine import protocol as ev


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the input's fault: reported in one line, without a traceback."""
    from engine.loading import CheckpointError
    from engine.session import SessionError

    return (SessionError, CheckpointError, ValueError, OSError)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="checkpoint folder or Hugging Face repo id")
    parser.add_argument("--drafter", help="MTP drafter folder (default: MODEL/drafter if present)")
    parser.add_argument("--drafter-mode", choices=["auto", "on", "off"], default="auto",
                        help="decode with the MTP drafter: auto = on a GPU only (default)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 is greedy (default)")
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--top-k", type=int, default=64)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--think", action="store_true", help="let the model think first")
    parser.add_argument("--system", default="", help="system prompt")
    parser.add_argument("--image-budget", type=int, default=280, choices=[70, 140, 280, 560, 1120])
    parser.add_argument("--stats", action="store_true", help="print timing to stderr")
    parser.add_argument("--kv-bits", type=int, choices=[8, 4], default=None,
                        help="quantize the full-attention layers' KV cache (long contexts)")


def settings_from(args: argparse.Namespace) -> ev.GenerationSettings:
    return ev.GenerationSettings(
        temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
        max_tokens=args.max_tokens, enable_thinking=args.think,
        use_drafter={"auto": None, "on": True, "off": False}[args.drafter_mode], seed=args.seed,
    )


def open_session(args: argparse.Namespace):
    from engine.session import Session, SessionOptions
    from engine.loading import load_everything

    print(f"tandem: loading {args.model}", file=sys.stderr)
    loaded = load_everything(args.model, args.drafter, args.dtype)
    if loaded.random_weights:
        print("tandem: this checkpoint has RANDOM weights; its answers are noise", file=sys.stderr)
    opts = SessionOptions(system_prompt=args.system, image_budget=args.image_budget,
                          kv_bits=args.kv_bits)
    drafter = None if args.drafter_mode == "off" else loaded.drafter
    return Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config, opts,
                   drafter=drafter)


def print_turn(events, show_stats: bool) -> str:
    """Stream a turn's events to the terminal; returns the finish reason."""
    reason = "stop"
    for e in events:
        if isinstance(e, ev.TextDelta):
            stream = sys.stdout if e.channel == "answer" else sys.stderr
            stream.write(e.text)
            stream.flush()
        elif isinstance(e, ev.ToolCallEvent):
            print(f"\n[tool call] {e.name}({e.arguments})")
        elif isinstance(e, ev.ParseErrorEvent):
            print(f"\n[unparsed model output] {e.message}: {e.raw!r}", file=sys.stderr)
        elif isinstance(e, ev.ContextWarning):
            print(f"\ntandem: {e.message}", file=sys.stderr)
        elif isinstance(e, ev.TurnStats) and show_stats:
            print(f"\n[{e.prompt_tokens} prompt tokens, prefill {e.prefill_seconds:.2f} s, "
                  f"first token {e.time_to_first_token:.2f} s, {e.generated_tokens} tokens at "
                  f"{e.decode_tokens_per_second:.1f} tok/s]", file=sys.stderr)
        elif isinstance(e, ev.TurnFinished):
            reason = e.reason
    print()
    return reason
