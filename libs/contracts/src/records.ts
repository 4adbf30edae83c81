/**
 * The value stored under `key`, never one inherited from Object.prototype. Ids in URLs are the
 * client's to choose, and `valueOf`, `constructor` or `toString` looked up in a plain record
 * would find a function: a member or resource that does not exist.
 */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
