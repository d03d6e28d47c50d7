/** Where a subscription stands in its channel: the epoch and the last offset seen. */
export interface Position {
  epoch: string;
  offset: number;
}

/**
 * Builds a stream id (docs/protocol.md, Stream id): the position of every channel of the
 * stream, in grant order, as `epoch:offset` joined by `.`. The server reads
 * it from `since` to resume every channel with no loss and no duplicate.
 */
export function streamId(positions: readonly Position[]): string {
  return positions.map((p) => `${p.epoch}:${p.offset}`).join('.');
}

/** Parses a stream id built by {@link streamId}; null when malformed. */
export function parseStreamId(id: string): Position[] | null {
  if (id === '') return [];
  const out: Position[] = [];
  for (const item of id.split('.')) {
    const i = item.lastIndexOf(':');
    if (i < 0) return null;
    const offset = Number(item.slice(i + 1));
    if (!Number.isSafeInteger(offset) || offset < 0) return null;
    out.push({ epoch: item.slice(0, i), offset });
  }
  return out;
}

/**
 * Reports whether a publication at offset was already seen at position
 * known. Offsets grow by one per publication within an epoch, and an epoch
 * change is always announced by a `sub` event first, so an offset at or
 * below the known one is a duplicate.
 */
export function isDuplicate(known: Position | undefined, offset: number): boolean {
  return known !== undefined && offset <= known.offset;
}
