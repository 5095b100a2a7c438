"""Lightning callbacks that watch a pretraining run without touching its training.

Each callback has one job, in its own module, and costs little per epoch on the embedded digits:

* [`OnlineKNN`][structured_ssl.callbacks.online_eval.knn.OnlineKNN] logs ``val/knn_acc``
  (weighted kNN, see [`structured_ssl.callbacks.metrics`][structured_ssl.callbacks.metrics]);
* [`TestLinearEval`][structured_ssl.callbacks.online_eval.linear_eval.TestLinearEval] logs
  ``test/linear_acc`` and ``test_rotated/linear_acc``: a linear classifier fitted to convergence
  on frozen train features when ``test`` runs;
* [`EquivarianceMonitor`][structured_ssl.callbacks.online_eval.equivariance_monitor.EquivarianceMonitor]
  logs ``val/equivariance_error`` of the encoder;
* [`EmbeddingProjector`][structured_ssl.callbacks.online_eval.projector.EmbeddingProjector]
  writes val embeddings, labels and thumbnails to TensorBoard's Projector;
* [`FiberSimilarityFigure`][structured_ssl.callbacks.fiber_monitor.FiberSimilarityFigure]
  (module ``fiber_monitor``) logs the centred fiber-to-fiber cosine similarity matrix and its
  mean against topographic distance: what structured SSL pulls together.

TensorBoard's HParams tab (hyperparameters WITH the run's final metrics) is
[`HParamsWithMetrics`][structured_ssl.callbacks.hparams_logging.HParamsWithMetrics], in its own
module.

They read the model through the interface every objective shares: ``embed(x)`` (the
invariant embedding) and ``encoder`` (read through the encoder contract,
[`EquivariantEncoder`][structured_ssl.lifted.contract.EquivariantEncoder]), and the data through
``datamodule.dataset(name)``. Features are always extracted in eval mode without gradients
(batch-norm statistics must not drift, lightly#1840), and every module's mode is restored
afterwards ([`shared`][structured_ssl.callbacks.online_eval.shared], which
[`LinearCurve`][structured_ssl.callbacks.linear_curve.LinearCurve] reads through too).

The class paths ``structured_ssl.callbacks.online_eval.<Class>`` that configs and saved runs
name resolve here. Lightning keys a callback's checkpoint state by its class name
(``__qualname__``), not its module, so checkpoints written before the split resume unchanged.
"""

from structured_ssl.callbacks.online_eval.equivariance_monitor import EquivarianceMonitor
from structured_ssl.callbacks.online_eval.knn import OnlineKNN
from structured_ssl.callbacks.online_eval.linear_eval import TestLinearEval
from structured_ssl.callbacks.online_eval.projector import EmbeddingProjector

__all__ = ["EmbeddingProjector", "EquivarianceMonitor", "OnlineKNN", "TestLinearEval"]
