import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import type { JobFile } from '../../ingest/loaders/load-files.js'
import type { LoadOptions } from '../../ingest/loaders/types.js'

/** ../shared/corpora beside the repository: read by benchmarks, never copied into the project. */
export const CORPORA = join(import.meta.dirname, '..', '..', '..', 'shared', 'corpora')

export interface CorpusSource {
  label: string
  files: JobFile[]
  load: LoadOptions
}

export function readTree(root: string, keep: (path: string) => boolean): JobFile[] {
  const out: JobFile[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry)
      if (statSync(path).isDirectory()) walk(path)
      else if (keep(path)) out.push({ name: relative(CORPORA, path), content: readFileSync(path) })
    }
  }
  walk(root)
  return out
}

// Guide pages only: licence and readme files are not guidance.
export const isGuidePage = (path: string) =>
  path.endsWith('.md') && !/(README|LICENSE|SOURCE)\.md$|readme\.md$/.test(path)

/**
 * The full shared corpora as three ingest jobs: the three style guides, the Magento Luma product CSVs
 * and the Best Buy product JSON. One job per source, as a content admin would run them.
 */
export function corpusSources(): CorpusSource[] {
  const magento = join(CORPORA, 'products-magento-luma', 'app', 'code', 'Magento')
  return [
    {
      label: 'style guides (govau, 18f, mailchimp)',
      files: ['style-guide-govau', 'style-guide-18f', 'style-guide-mailchimp'].flatMap((dir) =>
        readTree(join(CORPORA, dir), isGuidePage),
      ),
      load: { kind: 'guideline' },
    },
    {
      label: 'Magento Luma products (CSV)',
      files: [
        ...readTree(join(magento, 'ConfigurableSampleData', 'fixtures'), (p) => p.endsWith('products.csv')),
        ...readTree(join(magento, 'CatalogSampleData', 'fixtures', 'SimpleProduct'), (p) =>
          p.endsWith('.csv'),
        ),
      ],
      load: { kind: 'product', idColumn: 'sku' },
    },
    {
      label: 'Best Buy products (JSON)',
      files: [
        {
          name: 'products-bestbuy-typesense/ecommerce.json',
          content: readFileSync(
            join(CORPORA, 'products-bestbuy-typesense', 'scripts', 'data', 'ecommerce.json'),
          ),
        },
      ],
      // The records have no id field; the image URL is unique per product.
      load: { kind: 'product', idColumn: 'image', textColumns: ['description', 'brand', 'categories'] },
    },
  ]
}
