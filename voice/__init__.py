"""Every word a member reads, in one package: the bot's replies and the worker's embeds.

- `text`: Discord-safe user text (escaped, cut), counts ("2 songs"), times, "and N more";
- `embeds`: Discord's limits, colours and `fit`, the one function every embed leaves by;
- `replies`: the bot's answers to commands, buttons and autocompletes;
- `import_progress`, `share_progress`: the public progress messages, one builder per state,
  and the owner's notice when an import ends or waits long;
- `pages`: the browser pages around /link.

Pure: nothing here calls Discord, Spotify or the database, so it is tested by unit tests.
"""
