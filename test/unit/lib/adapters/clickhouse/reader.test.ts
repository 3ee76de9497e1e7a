import { describe, expect, it } from 'vitest';
import { readParseTree, refusalOf } from '../../../../../lib/adapters/clickhouse/reader.ts';

// As ClickHouse 18.16 printed them for `AST …` (escaped newlines and all).
const OLD_JOIN_IN =
  'Explain ParsedAST (children 1)\\n SelectWithUnionQuery (children 1)\\n  ExpressionList (children 1)\\n   SelectQuery (children 3)\\n    ExpressionList (children 1)\\n     Identifier x\\n    TablesInSelectQuery (children 2)\\n     TablesInSelectQueryElement (children 1)\\n      TableExpression (children 1)\\n       Identifier t\\n     TablesInSelectQueryElement (children 2)\\n      TableExpression (children 1)\\n       Identifier pf.images (alias s) (children 2)\\n        Identifier pf\\n        Identifier images\\n      TableJoin (children 1)\\n       Literal UInt64_1\\n    Function in (children 1)\\n     ExpressionList (children 2)\\n      Identifier x\\n      Subquery (children 1)\\n       SelectWithUnionQuery (children 1)\\n        ExpressionList (children 1)\\n         SelectQuery (children 2)\\n          ExpressionList (children 1)\\n           Literal UInt64_1\\n          TablesInSelectQuery (children 1)\\n           TablesInSelectQueryElement (children 1)\\n            TableExpression (children 1)\\n             Identifier system.processes (children 2)\\n              Identifier system\\n              Identifier processes\\n';
const OLD_TABLE_FUNCTION =
  'Explain ParsedAST (children 1)\n SelectWithUnionQuery (children 1)\n  ExpressionList (children 1)\n   SelectQuery (children 2)\n    ExpressionList (children 1)\n     Asterisk\n    TablesInSelectQuery (children 1)\n     TablesInSelectQueryElement (children 1)\n      TableExpression (children 1)\n       Function numbers (children 1)\n        ExpressionList (children 1)\n         Literal UInt64_2\n';
// The shape of `EXPLAIN AST …` on current servers.
const CURRENT =
  'SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  SelectQuery (children 2)\n   ExpressionList (children 1)\n    Asterisk\n   TablesInSelectQuery (children 1)\n    TablesInSelectQueryElement (children 1)\n     TableExpression (children 1)\n      TableIdentifier other.secret\n';

describe('readParseTree', () => {
  it('finds FROM/JOIN tables, table functions and system names in an 18.16 tree', () => {
    expect(readParseTree(OLD_JOIN_IN)).toEqual({
      kind: 'SelectWithUnionQuery',
      tables: ['t', 'pf.images', 'system.processes'],
      tableFunctions: [],
      systemNames: ['system.processes'],
    });
    expect(readParseTree(OLD_TABLE_FUNCTION).tableFunctions).toEqual(['numbers']);
  });

  it('reads the TableIdentifier of a current server', () => {
    expect(readParseTree(CURRENT).tables).toEqual(['other.secret']);
  });

  it('names a statement that is not a SELECT by its root', () => {
    expect(readParseTree('Explain ParsedAST (children 1)\\n ShowProcesslistQuery\\n').kind).toBe(
      'ShowProcesslistQuery',
    );
  });
});

describe('refusalOf', () => {
  it('lets a SELECT of the project database through', () => {
    expect(
      refusalOf(
        { kind: 'SelectWithUnionQuery', tables: ['images', 'pf.predictions'], tableFunctions: [], systemNames: [] },
        'pf',
      ),
    ).toBeUndefined();
  });

  it.each([
    [OLD_JOIN_IN, /system tables are not readable here \(system\.processes\)/],
    [OLD_TABLE_FUNCTION, /table functions are not allowed \(numbers\)/],
    [CURRENT, /only tables of database pf are readable \(other\.secret\)/],
    ['Explain ParsedAST (children 1)\n ShowTables\n', /takes one SELECT.*\(got ShowTables\)/],
  ])('refuses %#', (tree, message) => {
    expect(refusalOf(readParseTree(tree), 'pf')).toMatch(message);
  });
});
