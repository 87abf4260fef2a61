// The project's search attributes on a server: registered where the server lets us (a dev server started
// by someone else, a cluster with operator rights), otherwise a clear error with the command that
// registers them. Without them every workflow task fails (BadSearchAttributes) and a run hangs silently.
import proto from '@temporalio/proto';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

const { IndexedValueType } = proto.temporal.api.enums.v1;
const INDEXED: Record<string, proto.temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  TEXT: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  DOUBLE: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/** The operator calls used, as both a client `Connection` and a worker's `NativeConnection` have them. */
export interface OperatorConnection {
  operatorService: {
    listSearchAttributes(req: proto.temporal.api.operatorservice.v1.IListSearchAttributesRequest): Promise<{
      customAttributes?: Record<string, unknown> | null;
      systemAttributes?: Record<string, unknown> | null;
    }>;
    addSearchAttributes(req: proto.temporal.api.operatorservice.v1.IAddSearchAttributesRequest): Promise<unknown>;
  };
}

/** The CLI spells types as Keyword, Int, Double, KeywordList. */
export function cliTypeName(t: string): string {
  return t === 'KEYWORD_LIST' ? 'KeywordList' : t.charAt(0) + t.slice(1).toLowerCase();
}

/** The one command that registers the given attributes (all of the project's by default). */
export function searchAttributeCommand(namespace: string, names = ALL_SEARCH_ATTRIBUTES.map((k) => k.name)): string {
  const keys = ALL_SEARCH_ATTRIBUTES.filter((k) => names.includes(k.name));
  return (
    `temporal operator search-attribute create --namespace ${namespace} ` +
    keys.map((k) => `--name ${k.name} --type ${cliTypeName(k.type)}`).join(' ')
  );
}

export class SearchAttributesMissingError extends Error {
  override name = 'SearchAttributesMissingError';
  constructor(
    readonly namespace: string,
    readonly missing: string[],
    why: string,
  ) {
    super(
      `the Temporal namespace "${namespace}" lacks the search attributes ${missing.join(', ')} that rewrite-rl's ` +
        `workflows set (without them every run would hang on BadSearchAttributes); ${why}. Register them once with:\n` +
        `  ${searchAttributeCommand(namespace, missing)}\n` +
        `(add --address host:port and your TLS or API key flags for a remote server), then start the worker again.`,
    );
  }
}

/** The project's search attributes that the namespace lacks. */
export async function missingSearchAttributes(connection: OperatorConnection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set([
    ...Object.keys(existing.customAttributes ?? {}),
    ...Object.keys(existing.systemAttributes ?? {}),
  ]);
  return ALL_SEARCH_ATTRIBUTES.filter((k) => !known.has(k.name)).map((k) => k.name);
}

/**
 * Registers the missing search attributes (when `register`, the default) and returns their names; throws
 * SearchAttributesMissingError, naming the command that fixes it, when they are missing and cannot be
 * (or may not be) registered.
 */
export async function ensureSearchAttributes(
  connection: OperatorConnection,
  namespace: string,
  o: { register?: boolean } = {},
): Promise<string[]> {
  let missing: string[];
  try {
    missing = await missingSearchAttributes(connection, namespace);
  } catch (e) {
    throw new SearchAttributesMissingError(
      namespace,
      ALL_SEARCH_ATTRIBUTES.map((k) => k.name),
      `they could not be listed (${(e as Error).message})`,
    );
  }
  if (missing.length === 0) return [];
  if (o.register === false) throw new SearchAttributesMissingError(namespace, missing, 'registering was turned off');
  const byName = new Map(ALL_SEARCH_ATTRIBUTES.map((k) => [k.name, k]));
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((n) => [n, INDEXED[byName.get(n)!.type]])),
    });
  } catch (e) {
    throw new SearchAttributesMissingError(namespace, missing, `registering them failed (${(e as Error).message})`);
  }
  return missing;
}
