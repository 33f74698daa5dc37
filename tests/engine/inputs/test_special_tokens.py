"""The special tokens a session keeps out of answer text, and those the output parser must see."""

from engine.inputs.prompt import load_tokenizer
from engine.inputs.special_tokens import PARSER_TOKENS, hidden_token_ids


def test_every_special_token_but_the_parsers_is_hidden(tiny_checkpoint):
    tokenizer = load_tokenizer(tiny_checkpoint)
    hidden = hidden_token_ids(tokenizer)
    names = {tokenizer.convert_ids_to_tokens(i) for i in hidden}
    for shown in ('<|channel>', '<channel|>', '<|tool_call>', '<tool_call|>', '<|"|>', '<turn|>',
                  '<|tool_response>', '<eos>'):
        assert shown in PARSER_TOKENS and shown not in names
    for control in ("<bos>", "<|turn>", "<|image>", "<|image|>", "<unused12>", "<pad>",
                    "<tool_response|>", "<|think|>"):
        assert control in names, control
    assert tokenizer.convert_tokens_to_ids("a") not in hidden
    assert hidden_token_ids(tokenizer) is hidden  # kept per tokenizer
