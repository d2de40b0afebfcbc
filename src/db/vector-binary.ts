import type { Queryable } from './transaction.js'

/**
 * Vectors as one binary `vector[]` parameter instead of text literals: formatting 1,536 floats as text
 * and parsing them back costs more than the rest of a chunk's row. node-postgres sends a Buffer
 * parameter in binary format, so the server reads it with `array_recv`, which calls pgvector's
 * `vector_recv` per element: int16 dimensions, int16 unused (0), then float4 values, all big-endian
 * (https://www.postgresql.org/docs/current/sql-copy.html and pgvector's vector.c). The array header
 * names the element type by oid, which depends on the database, so it is looked up once per pool.
 */
export async function vectorArrayParam(
  db: Queryable,
  vectors: readonly (readonly number[] | null)[],
): Promise<Buffer> {
  return encodeVectorArray(await vectorTypeOid(db), vectors)
}

const oids = new WeakMap<object, Promise<number>>()

function vectorTypeOid(db: Queryable): Promise<number> {
  // A pool client is keyed by its pool's cache when it has one; the oid is the same per database.
  const key = db as object
  let oid = oids.get(key)
  if (!oid) {
    oid = db
      .query<{ oid: number }>("SELECT 'vector'::regtype::oid::int AS oid")
      .then((result) => result.rows[0]!.oid)
    oid.catch(() => oids.delete(key))
    oids.set(key, oid)
  }
  return oid
}

export function encodeVectorArray(
  elementOid: number,
  vectors: readonly (readonly number[] | null)[],
): Buffer {
  let size = 20
  for (const v of vectors) size += 4 + (v === null ? 0 : 4 + 4 * v.length)
  const out = Buffer.allocUnsafe(size)
  let at = out.writeInt32BE(1, 0) // dimensions of the array
  at = out.writeInt32BE(vectors.includes(null) ? 1 : 0, at) // has nulls
  at = out.writeUInt32BE(elementOid, at)
  at = out.writeInt32BE(vectors.length, at)
  at = out.writeInt32BE(1, at) // lower bound
  for (const v of vectors) {
    if (v === null) {
      at = out.writeInt32BE(-1, at)
      continue
    }
    at = out.writeInt32BE(4 + 4 * v.length, at)
    at = out.writeInt16BE(v.length, at)
    at = out.writeInt16BE(0, at)
    for (let i = 0; i < v.length; i++) at = out.writeFloatBE(v[i]!, at)
  }
  return out
}
