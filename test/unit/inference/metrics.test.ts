// The inference metrics of a named pipeline carry pipeline="<name>" on every series they record or
// remove; the default pipeline's series stay as they were (no pipeline label), on the same registry.
import { describe, expect, it } from 'vitest';
import { createInferenceMetrics } from '../../../inference/metrics.ts';
import { createMetricsRegistry } from '../../../lib/core/metrics.ts';

describe('inference metrics per pipeline', () => {
  it('labels a named pipeline’s series and leaves the default one’s unlabelled', async () => {
    const registry = createMetricsRegistry({ service: 'serve', defaultMetrics: false });
    const main = createInferenceMetrics(registry);
    const faces = createInferenceMetrics(registry, 'faces');
    main.predictions.inc({ origin: 'rest', role: 'production', model_version: 'v0001' });
    faces.predictions.inc({ origin: 'rest', role: 'production', model_version: 'v0001' }, 2);
    main.batchSize.observe(4);
    faces.batchSize.observe(8);
    faces.queueDepth.set(3);
    faces.shadowFailures.inc();
    faces.modelInfo.set({ role: 'production', version: 'v0002', spec_version: 'gray48@1' }, 1);
    faces.modelInfo.remove({ role: 'production', version: 'v0002', spec_version: 'gray48@1' });
    faces.httpRequests.inc({ route: '/v1/predict', method: 'POST', status: '200', client: 'a' });
    const text = await registry.metrics();
    expect(text).toContain(
      'pixelflow_predictions_total{origin="rest",role="production",model_version="v0001",service="serve"} 1',
    );
    expect(text).toContain(
      'pixelflow_predictions_total{origin="rest",role="production",model_version="v0001",pipeline="faces",service="serve"} 2',
    );
    expect(text).toContain('pixelflow_inference_batch_size_count{service="serve"} 1');
    expect(text).toContain('pixelflow_inference_batch_size_count{service="serve",pipeline="faces"} 1');
    expect(text).toContain('pixelflow_inference_queue_depth{pipeline="faces",service="serve"} 3');
    expect(text).toContain('pixelflow_shadow_failures_total{pipeline="faces",service="serve"} 1');
    expect(text).not.toContain('pixelflow_model_info{');
    // HTTP metrics are per route, not per pipeline.
    expect(text).toContain(
      'pixelflow_http_requests_total{route="/v1/predict",method="POST",status="200",client="a",service="serve"} 1',
    );
  });
});
