// Test-only bridge between pytest and Microsoft's KQL parser (Kusto.Language 12.4.1 via
// @kusto/language-service-next). One long-lived process per test session; JSON Lines protocol:
//   {"op": "schema", "tables": {"T": "(a:string, ts:datetime)"}, "functions": {"F": ["(x:string)", "{ T }"]}}
//   {"op": "check", "query": "..."}   -> diagnostics (errors AND warnings) + inferred result columns
//   (optional "workspaces": ["<id>", ...]: Log Analytics' workspace("<id>") resolves each to the same tables)
//   {"op": "literal", "text": "..."}  -> `print x = <text>` parsed; tokens of <text> and the parser's value
// Every request may carry "id"; every reply echoes it. No network, no files.
'use strict';
require('@kusto/language-service-next/bridge.min.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.min.js');
const readline = require('readline');

const K = Kusto.Language;
const S = K.Symbols;
let globals = K.GlobalState.Default;

function kindName(kind) {
  return System.Enum.getName(K.Syntax.SyntaxKind, Bridge.box(kind, K.Syntax.SyntaxKind));
}

function setSchema(msg) {
  const symbols = [];
  for (const [name, shape] of Object.entries(msg.tables || {})) {
    symbols.push(new S.TableSymbol.$ctor7(name, shape, null));
  }
  for (const [name, [params, body]] of Object.entries(msg.functions || {})) {
    symbols.push(new S.FunctionSymbol.$ctor16(name, params, body, null));
  }
  const db = new S.DatabaseSymbol.$ctor1(msg.database || 'LogAnalytics', symbols, false);
  globals = K.GlobalState.Default.WithDatabase(db);
  return {ok: true, tables: Object.keys(msg.tables || {}).length};
}

function diagnostics(code, text) {
  return Bridge.toArray(code.GetDiagnostics()).map((d) => ({
    code: d.Code, severity: d.Severity, message: d.Message,
    start: d.Start, end: d.End, text: text.substring(d.Start, d.End),
  }));
}

// Log Analytics' workspace("<id>") (absent from Kusto.Language): declared like its database("<name>"), each id a
// database holding the same tables as the default one.
function withWorkspaces(ids) {
  const current = globals.Database;
  const dbs = [current];
  for (const id of ids) dbs.push(new S.DatabaseSymbol.$ctor1(id, Bridge.toArray(current.Members), false));
  const cluster = new S.ClusterSymbol.$ctor1('loganalytics', dbs, false);
  const fn = new S.FunctionSymbol.$ctor2('workspace', S.ReturnTypeKind.Parameter0Database,
    [new S.Parameter.$ctor2('name', S.ScalarTypes.String)]);
  return globals.WithCluster(cluster).WithDatabase(current).WithFunctions(
    Bridge.toArray(globals.Functions).concat([fn]));
}

function check(msg) {
  const text = msg.query;
  const code = K.KustoCode.ParseAndAnalyze(text, msg.workspaces ? withWorkspaces(msg.workspaces) : globals);
  let columns = null;
  const rt = code.ResultType;
  if (rt && rt.Columns) {
    columns = Bridge.toArray(rt.Columns).map((c) => ({name: c.Name, type: c.Type.Name}));
  }
  return {diagnostics: diagnostics(code, text), columns};
}

// The parser's own value of a literal token, in a JSON-safe form (64-bit numbers as strings).
function literalValue(value) {
  if (value === null || value === undefined) return {type: 'null'};
  if (typeof value === 'string') return {type: 'string', value};
  const t = Bridge.getType(value);
  const name = t && t.$$name;
  const v = value.$boxed ? value.v : value;
  switch (name) {
    case 'System.Int64': return {type: 'long', value: v.toString()};
    case 'System.Int32': return {type: 'int', value: String(v)};
    case 'System.Boolean': return {type: 'bool', value: v};
    case 'System.Double': return {type: 'real', value: Number.isFinite(v) ? v.toString() : String(v)};
    case 'System.Decimal': return {type: 'decimal', value: v.toString()};
    case 'System.Guid': return {type: 'guid', value: v.toString()};
    case 'System.TimeSpan': return {type: 'timespan', ticks: v.ticks.toString()};
    case 'System.DateTime': return {type: 'datetime', ticks: System.DateTime.getTicks(v).toString()};
    default: return {type: 'other', name: String(name)};
  }
}

function literal(msg) {
  const prefix = 'print x = ';
  const text = prefix + msg.text;
  const code = K.KustoCode.ParseAndAnalyze(text, globals);
  const tokens = Bridge.toArray(code.GetLexicalTokens())
    .filter((t) => t.Text !== '' || t.Trivia !== '')
    .map((t) => ({kind: kindName(t.Kind), text: t.Text, trivia: t.Trivia}));
  const lits = Bridge.toArray(code.Syntax.GetDescendants(K.Syntax.LiteralExpression));
  const values = lits.map((l) => ({text: l.Token.Text, ...literalValue(l.LiteralValueInfo ? l.LiteralValueInfo.Value : null)}));
  let type = null;
  const rt = code.ResultType;
  if (rt && rt.Columns) {
    const cols = Bridge.toArray(rt.Columns);
    if (cols.length === 1) type = cols[0].Type.Name;
  }
  // drop "print", "x", "=" (3 tokens) so tokens describe only the literal text
  return {diagnostics: diagnostics(code, text), tokens: tokens.slice(3), values, type};
}

const handlers = {schema: setSchema, check, literal};

const rl = readline.createInterface({input: process.stdin, terminal: false});
rl.on('line', (line) => {
  if (!line.trim()) return;
  let reply;
  let id = null;
  try {
    const msg = JSON.parse(line);
    id = msg.id === undefined ? null : msg.id;
    const h = handlers[msg.op];
    reply = h ? h(msg) : {error: `unknown op ${msg.op}`};
  } catch (e) {
    reply = {error: String((e && e.message) || e)};
  }
  reply.id = id;
  process.stdout.write(JSON.stringify(reply) + '\n');
});
