import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'

/**
 * One uPlot chart in a figure, with its caption and the same numbers as a table (what a screen reader
 * reads, and what stays when the canvas cannot be drawn). Rebuilt when its data changes.
 */
export function Chart({
  id,
  caption,
  options,
  data,
  table,
}: {
  id: string
  caption: string
  options: Omit<uPlot.Options, 'width' | 'height'>
  data: uPlot.AlignedData
  table: { head: string[]; rows: (string | number)[][] }
}) {
  const box = useRef<HTMLDivElement>(null)
  useEffect(() => {
    if (!box.current) return
    const chart = new uPlot({ width: 420, height: 220, ...options }, data, box.current)
    return () => chart.destroy()
  }, [options, data])
  return (
    <figure class="chart" aria-labelledby={`${id}-caption`}>
      <figcaption id={`${id}-caption`}>{caption}</figcaption>
      <div ref={box} class="chart-canvas" aria-hidden="true" />
      <table class="chart-data">
        <thead>
          <tr>
            {table.head.map((h) => (
              <th key={h} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {table.rows.map((row) => (
            <tr key={String(row[0])}>
              {row.map((cell, i) => (
                <td key={i}>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  )
}

/** Bars at x = 0, 1, …, labelled by `labels` on the x axis. */
export function barOptions(
  labels: string[],
  series: uPlot.Series[],
  yLabel: string,
  format: (value: number) => string = String,
): Omit<uPlot.Options, 'width' | 'height'> {
  return {
    scales: {
      x: { time: false, range: [-0.5, labels.length - 0.5] },
      y: { range: (_u, _min, max) => [0, Math.max(max, 1e-9) * 1.15] },
    },
    axes: [
      {
        values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? (labels[v] ?? '') : '')),
        splits: () => labels.map((_, i) => i),
      },
      { label: yLabel, size: 90, values: (_u, splits) => splits.map(format) },
    ],
    series: [
      {},
      ...series.map((s) => ({
        paths: uPlot.paths.bars?.({ size: [0.5, 80] }),
        points: { show: false },
        ...s,
      })),
    ],
    legend: { show: false },
    cursor: { show: false },
  }
}

/** Draw a 95% interval as a whisker over each bar: [low, high] per x. */
export function whiskers(intervals: (readonly [number, number] | null)[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        const ctx = u.ctx
        ctx.save()
        ctx.strokeStyle = '#1f2933'
        ctx.lineWidth = 2 * uPlot.pxRatio
        intervals.forEach((interval, x) => {
          if (!interval) return
          const cx = u.valToPos(x, 'x', true)
          const [low, high] = interval.map((v) => u.valToPos(v, 'y', true)) as [number, number]
          const cap = 8 * uPlot.pxRatio
          ctx.beginPath()
          ctx.moveTo(cx, low)
          ctx.lineTo(cx, high)
          ctx.moveTo(cx - cap, low)
          ctx.lineTo(cx + cap, low)
          ctx.moveTo(cx - cap, high)
          ctx.lineTo(cx + cap, high)
          ctx.stroke()
        })
        ctx.restore()
      },
    },
  }
}
