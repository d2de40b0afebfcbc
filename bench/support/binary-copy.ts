/**
 * PostgreSQL's binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html, "Binary
 * Format"): the fastest way PostgreSQL takes rows. Each field is written in its type's binary
 * receive format, so the server parses no text: vectors go as pgvector's `vector_recv` layout
 * (int16 dimensions, int16 unused, float4 values, big-endian).
 */
export type CopyFieldType = 'int8' | 'int4' | 'text' | 'vector' | 'oid' | 'jsonb'

export type CopyValue = number | string | ArrayLike<number> | null

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1')

export class BinaryCopyWriter {
  private buffer = Buffer.allocUnsafe(1 << 20)
  private at = 0

  constructor(private readonly types: readonly CopyFieldType[]) {
    this.reserve(SIGNATURE.length + 8)
    this.at += SIGNATURE.copy(this.buffer, this.at)
    this.at = this.buffer.writeInt32BE(0, this.at) // flags
    this.at = this.buffer.writeInt32BE(0, this.at) // header extension length
  }

  addRow(values: readonly CopyValue[]): void {
    this.reserve(2)
    this.at = this.buffer.writeInt16BE(this.types.length, this.at)
    for (let i = 0; i < this.types.length; i++) this.addField(this.types[i]!, values[i] ?? null)
  }

  /** The whole stream, trailer included. */
  finish(): Buffer {
    this.reserve(2)
    this.at = this.buffer.writeInt16BE(-1, this.at)
    return this.buffer.subarray(0, this.at)
  }

  private addField(type: CopyFieldType, value: CopyValue): void {
    if (value === null) {
      this.reserve(4)
      this.at = this.buffer.writeInt32BE(-1, this.at)
      return
    }
    switch (type) {
      case 'int8':
        this.reserve(12)
        this.at = this.buffer.writeInt32BE(8, this.at)
        this.at = this.buffer.writeBigInt64BE(BigInt(value as number), this.at)
        return
      case 'int4':
      case 'oid':
        this.reserve(8)
        this.at = this.buffer.writeInt32BE(4, this.at)
        this.at =
          type === 'oid'
            ? this.buffer.writeUInt32BE(value as number, this.at)
            : this.buffer.writeInt32BE(value as number, this.at)
        return
      case 'text':
      case 'jsonb': {
        const text = value as string
        // jsonb's binary format is a version byte (1) followed by the JSON text.
        const extra = type === 'jsonb' ? 1 : 0
        this.reserve(4 + extra + Buffer.byteLength(text))
        const start = this.at
        this.at += 4
        if (extra) this.at = this.buffer.writeUInt8(1, this.at)
        this.at += this.buffer.write(text, this.at, 'utf8')
        this.buffer.writeInt32BE(this.at - start - 4, start)
        return
      }
      case 'vector': {
        const vector = value as ArrayLike<number>
        this.reserve(8 + 4 * vector.length)
        this.at = this.buffer.writeInt32BE(4 + 4 * vector.length, this.at)
        this.at = this.buffer.writeInt16BE(vector.length, this.at)
        this.at = this.buffer.writeInt16BE(0, this.at)
        for (let i = 0; i < vector.length; i++) this.at = this.buffer.writeFloatBE(vector[i]!, this.at)
        return
      }
    }
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + bytes))
    this.buffer.copy(grown, 0, 0, this.at)
    this.buffer = grown
  }
}

/** pgvector's binary layout of one vector, for a `$n::vector` (or array element) sent as binary. */
export function vectorToBinary(vector: ArrayLike<number>): Buffer {
  const out = Buffer.allocUnsafe(4 + 4 * vector.length)
  out.writeInt16BE(vector.length, 0)
  out.writeInt16BE(0, 2)
  for (let i = 0; i < vector.length; i++) out.writeFloatBE(vector[i]!, 4 + 4 * i)
  return out
}

/**
 * A one-dimensional array in binary form (array_recv): node-postgres sends a Buffer parameter as
 * binary, so `$n::vector[]` arrives without any text parsing. `elementType` is the element's type
 * oid (the vector type's oid differs per database: look it up).
 */
export function arrayToBinary(elementType: number, items: readonly (Buffer | null)[]): Buffer {
  let size = 20
  for (const item of items) size += 4 + (item?.length ?? 0)
  const out = Buffer.allocUnsafe(size)
  let at = out.writeInt32BE(1, 0)
  at = out.writeInt32BE(items.some((item) => item === null) ? 1 : 0, at)
  at = out.writeUInt32BE(elementType, at)
  at = out.writeInt32BE(items.length, at)
  at = out.writeInt32BE(1, at)
  for (const item of items) {
    if (item === null) {
      at = out.writeInt32BE(-1, at)
      continue
    }
    at = out.writeInt32BE(item.length, at)
    at += item.copy(out, at)
  }
  return out
}
