/// The stylesheet of an exported page: one readable column, code and outputs as cards,
/// highlight.js's token classes coloured, narrow screens and print handled.
let pageStyle = """
  :root {
    --text: #1f2328; --muted: #59636e; --line: #d1d9e0; --code-bg: #f6f8fa;
    --accent: #0969da; --good: #1a7f37; --good-bg: #dafbe1; --bad: #cf222e; --bad-bg: #ffebe9;
    --exercise: #8250df; --exercise-bg: #fbefff;
    color-scheme: light;
  }
  * { box-sizing: border-box; }
  html { -webkit-text-size-adjust: 100%; }
  body {
    margin: 0; color: var(--text); background: #fff;
    font: 17px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
  }
  main { max-width: 50rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
  h1, h2, h3, h4 { line-height: 1.25; margin: 2rem 0 .75rem; }
  h1 { font-size: 2rem; margin-top: .5rem; }
  h2 { font-size: 1.45rem; padding-bottom: .3rem; border-bottom: 1px solid var(--line); }
  h3 { font-size: 1.15rem; }
  a { color: var(--accent); }
  img { max-width: 100%; height: auto; }
  blockquote { margin: 1rem 0; padding: .25rem 1rem; color: var(--muted); border-left: 4px solid var(--line); }
  code, pre { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
  :not(pre) > code { font-size: .88em; padding: .1em .35em; background: var(--code-bg); border-radius: 4px; }
  /* Long code and output lines wrap in the column rather than scroll sideways; a tab stop
     of two keeps Swift's indentation readable when they do. */
  pre {
    font-size: .84rem; line-height: 1.45; margin: 0; tab-size: 2;
    white-space: pre-wrap; overflow-wrap: anywhere;
  }
  hr { border: 0; border-top: 1px solid var(--line); margin: 2rem 0; }
  table { border-collapse: collapse; font-size: .9rem; }
  th, td { padding: .3rem .75rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
  th { border-bottom: 2px solid var(--line); }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  tbody tr:nth-child(even) { background: #fafbfc; }

  .run-summary { font-size: .85rem; color: var(--muted); border-bottom: 1px solid var(--line); padding-bottom: .5rem; }
  .run-summary .file { font-family: ui-monospace, Menlo, Consolas, monospace; }
  .good { color: var(--good); font-weight: 600; }
  .bad { color: var(--bad); font-weight: 600; }
  .banner { margin: 1rem 0; padding: .75rem 1rem; border: 1px solid var(--bad); background: var(--bad-bg); border-radius: 6px; }
  .banner pre { margin-top: .5rem; white-space: pre-wrap; }
  .notice { margin: 1rem 0; padding: .5rem 1rem; background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; font-size: .9rem; }

  .cell { margin: 1.25rem 0; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
  .cell-label { font-size: .8rem; font-weight: 600; padding: .3rem .9rem; color: var(--muted); background: #fff; border-bottom: 1px solid var(--line); }
  .cell.exercise { border-color: var(--exercise); }
  .cell.exercise .cell-label { color: var(--exercise); background: var(--exercise-bg); }
  .cell.failed { border-color: var(--bad); }
  .cell.not-reached .source { opacity: .6; }
  .source { background: var(--code-bg); padding: .8rem .9rem; }
  .output { padding: .6rem .9rem; border-top: 1px solid var(--line); display: flex; flex-direction: column; gap: .5rem; }
  .output pre { white-space: pre-wrap; }
  .stderr { color: #9a6700; }
  .output .error { color: var(--bad); background: var(--bad-bg); padding: .5rem .7rem; border-radius: 4px; white-space: pre-wrap; }
  .withheld { margin: 0; color: var(--muted); font-style: italic; font-size: .9rem; }
  .table-wrap { overflow-x: auto; }
  .plot { margin: 0; }
  .plot svg { display: block; max-width: 100%; height: auto; }
  .plot svg.narrow { display: none; }
  @media (max-width: 36rem) { .plot svg.wide { display: none; } .plot svg.narrow { display: block; } }
  .check-result { font-size: .92rem; }
  .badge { display: inline-block; min-width: 4.2em; margin-right: .4rem; padding: .05rem .5rem; border-radius: 999px; font-size: .78rem; font-weight: 700; text-align: center; }
  .pass .badge { color: var(--good); background: var(--good-bg); }
  .fail .badge { color: var(--bad); background: var(--bad-bg); }
  .detail { color: var(--muted); }
  .check-hint { margin: .15rem 0 .3rem 4.8em; font-size: .88rem; }
  details.hint { margin: .6rem 0; padding: .4rem .8rem; border-left: 3px solid #d4a72c; background: #fff8e1; border-radius: 4px; }
  details.hint summary { cursor: pointer; font-weight: 600; }
  .progress { display: flex; align-items: center; gap: .6rem; font-size: .88rem; }
  .progress .bar { flex: 1; max-width: 18rem; height: .55rem; background: #eaeef2; border-radius: 999px; overflow: hidden; }
  .progress .bar span { display: block; height: 100%; background: var(--good); }
  .progress-count { font-variant-numeric: tabular-nums; color: var(--muted); }
  .math-tex { white-space: pre-wrap; }
  .math-tex.display { display: block; margin: 1rem 0; padding: .5rem; }
  .katex-display { overflow-x: auto; overflow-y: hidden; padding: .2rem 0; }
  footer { max-width: 50rem; margin: 0 auto; padding: 1rem 1.25rem 2rem; font-size: .8rem; color: var(--muted); border-top: 1px solid var(--line); }

  /* highlight.js token classes */
  .hljs-keyword, .hljs-literal, .hljs-selector-tag { color: #cf222e; }
  .hljs-string, .hljs-regexp { color: #0a3069; }
  .hljs-number, .hljs-attr, .hljs-attribute, .hljs-variable, .hljs-symbol { color: #0550ae; }
  .hljs-comment, .hljs-quote { color: #6e7781; font-style: italic; }
  .hljs-title, .hljs-section { color: #8250df; }
  .hljs-type, .hljs-built_in, .hljs-class .hljs-title { color: #953800; }
  .hljs-meta { color: #116329; }

  @media (max-width: 40rem) {
    body { font-size: 16px; }
    main { padding: 1rem .75rem 2rem; }
    h1 { font-size: 1.6rem; }
    pre { font-size: .78rem; }
    .source, .output { padding-left: .6rem; padding-right: .6rem; }
  }
  @media print {
    body { font-size: 10.5pt; }
    main { max-width: none; padding: 0; }
    a { color: inherit; }
    pre, .output pre { white-space: pre-wrap; overflow-wrap: anywhere; overflow: visible; }
    .cell { break-inside: avoid; }
    .plot, table, .katex-display { break-inside: avoid; }
    h1, h2, h3 { break-after: avoid; }
    footer { border: 0; }
  }

  """
