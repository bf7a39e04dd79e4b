using TorchSharp;
using static TorchSharp.torch;

namespace StrawberryPhi.LocalEngine.Model;

public sealed record TrainingOptions
{
    public int Epochs { get; init; } = 3;
    public int BatchSize { get; init; } = 16;

    /// <summary>Peak learning rate (OpenAI's multiplier scales this).</summary>
    public double LearningRate { get; init; } = 2e-3;

    public double WeightDecay { get; init; } = 0.01;
    public double WarmupShare { get; init; } = 0.05;
    public double GradientClip { get; init; } = 1.0;
    public int Seed { get; init; } = 42;

    /// <summary>Threads libtorch may use, so the host stays responsive.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Steps already done by an earlier run of the same job (its model's weights are in the model given).</summary>
    public int StartStep { get; init; }

    /// <summary>The optimizer's state saved when that run stopped (AdamW's moments), so that the resumed run continues exactly.</summary>
    public string? OptimizerState { get; init; }
}

/// <summary>One optimizer step's metrics (what the fine-tuning API reports as a metrics event); validation ones only with validation data.</summary>
public sealed record TrainingStep(int Step, int TotalSteps, double TrainLoss, double TrainMeanTokenAccuracy, double? ValidLoss = null, double? ValidMeanTokenAccuracy = null);

/// <summary>A preference pair (DPO): the same prompt with the preferred and the non-preferred answer, each trained on its answer only.</summary>
public sealed record PreferencePair(EncodedExample Chosen, EncodedExample Rejected);

/// <summary>
/// Training on trained assistant tokens only: AdamW, linear warm-up then cosine decay to a tenth of the peak, gradient
/// clipping, and a seeded shuffle, so the same seed gives the same run. Two objectives share the loop: supervised
/// (cross-entropy) and preference (DPO against a frozen reference model).
/// </summary>
public static class Trainer
{
    /// <summary>Tokens per micro-batch: small enough that a cancel waits well under a second on the small base.</summary>
    private const int MicroBatchTokens = 1024;

    /// <summary>DPO's beta when "auto": the value of the DPO paper and of common practice.</summary>
    public const double DefaultBeta = 0.1;

    /// <summary>Trained target positions of an example within the context (what the loss averages over).</summary>
    private static int CountTrained(EncodedExample example, int context)
    {
        var n = Math.Min(context, example.Tokens.Length - 1);
        var count = 0;
        for (var t = 0; t < n; t++)
        {
            count += example.Trained[t + 1] ? 1 : 0;
        }
        return count;
    }

    /// <param name="onEpoch">Called after each epoch with the epoch number (1-based) and the step reached.</param>
    /// <param name="validation">Held-out examples: each step also reports the loss on one batch of them, in turn.</param>
    /// <param name="saveState">
    /// Called with a function that writes the optimizer's state to a path, and the steps done: after each epoch, and when
    /// training is cancelled (between steps, so the weights and the state match). A run given that state and those
    /// steps (<see cref="TrainingOptions.StartStep"/>, <see cref="TrainingOptions.OptimizerState"/>) continues exactly.
    /// </param>
    public static void Train(
        GptModel model, IReadOnlyList<EncodedExample> examples, TrainingOptions options, Action<TrainingStep>? onStep = null,
        Action<int, int>? onEpoch = null, IReadOnlyList<EncodedExample>? validation = null, Action<Action<string>, int>? saveState = null,
        CancellationToken cancellationToken = default)
    {
        var context = model.Size.Context;
        Loop(model, examples, options, (batch, token) =>
        {
            // Gradients accumulate over micro-batches: the same mean loss over the batch's trained tokens, with a
            // cancellation check every few sequences (a step of the small model on long sequences takes seconds).
            var trainedTokens = Math.Max(1, batch.Sum(e => CountTrained(e, context)));
            double lossSum = 0;
            long correct = 0;
            var longest = Math.Min(context, batch.Max(e => e.Tokens.Length - 1));
            foreach (var micro in batch.Chunk(Math.Max(1, MicroBatchTokens / Math.Max(1, longest))))
            {
                token.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                var (inputs, targets) = Batch([.. micro], context);
                var logits = model.forward(inputs).reshape(-1, EngineVocabulary.Size);
                var flatTargets = targets.reshape(-1);
                var loss = nn.functional.cross_entropy(logits, flatTargets, ignore_index: -100, reduction: nn.Reduction.Sum) / trainedTokens;
                loss.backward();
                lossSum += loss.item<float>();
                correct += CorrectCount(logits, flatTargets);
            }
            return (lossSum, (double)correct / trainedTokens);
        }, validation is { Count: > 0 } ? held =>
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var (inputs, targets) = Batch([.. held], context);
            var logits = model.forward(inputs).reshape(-1, EngineVocabulary.Size);
            var flatTargets = targets.reshape(-1);
            return (nn.functional.cross_entropy(logits, flatTargets, ignore_index: -100).item<float>(),
                (double)CorrectCount(logits, flatTargets) / Math.Max(1, flatTargets.ne(-100).sum().item<long>()));
        } : null, validation, onStep, onEpoch, saveState, cancellationToken);
    }

    /// <summary>
    /// Direct Preference Optimization (Rafailov et al. 2023): for each pair, the loss is
    /// −log σ(β·[(log π(chosen) − log π_ref(chosen)) − (log π(rejected) − log π_ref(rejected))]), where log π is the
    /// sum of the answer's token log-probabilities under the model being trained and π_ref under the frozen
    /// <paramref name="reference"/> (the model as the job started). A step reports the mean loss and, as its
    /// accuracy, the share of pairs whose chosen answer the model now prefers more than the reference did.
    /// </summary>
    public static void TrainPreference(
        GptModel model, GptModel reference, IReadOnlyList<PreferencePair> pairs, TrainingOptions options, double beta,
        Action<TrainingStep>? onStep = null, Action<int, int>? onEpoch = null, IReadOnlyList<PreferencePair>? validation = null,
        Action<Action<string>, int>? saveState = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(beta);
        var context = model.Size.Context;
        reference.eval();
        (Tensor Loss, Tensor Margins) Objective(PreferencePair[] micro, bool withGrad)
        {
            var sequences = micro.Select(p => p.Chosen).Concat(micro.Select(p => p.Rejected)).ToList();
            var (inputs, targets) = Batch(sequences, context);
            Tensor referenceLogProbs;
            using (torch.no_grad())
            {
                referenceLogProbs = SequenceLogProbs(reference.forward(inputs), targets);
            }
            Tensor policyLogProbs;
            using (withGrad ? null : torch.no_grad())
            {
                policyLogProbs = SequenceLogProbs(model.forward(inputs), targets);
            }
            var ratios = policyLogProbs - referenceLogProbs; // [2n]: chosen first, then rejected
            var margins = ratios.narrow(0, 0, micro.Length) - ratios.narrow(0, micro.Length, micro.Length);
            return (-nn.functional.logsigmoid(margins * beta), margins);
        }
        Loop(model, pairs, options, (batch, token) =>
        {
            double lossSum = 0;
            long preferred = 0;
            var longest = Math.Min(context, batch.Max(p => Math.Max(p.Chosen.Tokens.Length, p.Rejected.Tokens.Length) - 1));
            foreach (var micro in batch.Chunk(Math.Max(1, MicroBatchTokens / Math.Max(1, 2 * longest))))
            {
                token.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                var (losses, margins) = Objective(micro, withGrad: true);
                var loss = losses.sum() / batch.Count;
                loss.backward();
                lossSum += loss.item<float>();
                preferred += margins.gt(0).sum().item<long>();
            }
            return (lossSum, (double)preferred / batch.Count);
        }, validation is { Count: > 0 } ? held =>
        {
            using var scope = torch.NewDisposeScope();
            var (losses, margins) = Objective([.. held], withGrad: false);
            return (losses.mean().item<float>(), margins.gt(0).to_type(ScalarType.Float32).mean().item<float>());
        } : null, validation, onStep, onEpoch, saveState, cancellationToken);
    }

    /// <summary>Per sequence, the sum of the log-probabilities of its trained target tokens.</summary>
    private static Tensor SequenceLogProbs(Tensor logits, Tensor targets)
    {
        var mask = targets.ne(-100);
        var safe = targets.masked_fill(mask.logical_not(), 0);
        var picked = nn.functional.log_softmax(logits, -1).gather(2, safe.unsqueeze(2)).squeeze(2);
        return (picked * mask.to_type(picked.dtype)).sum(1);
    }

    /// <summary>
    /// The loop both objectives share: epochs over a seeded shuffle, batches, the learning-rate schedule, clipping, the
    /// validation turn, the resume logic (steps an earlier run did are skipped, advancing the order as they did), and
    /// saving the state after each epoch and when cancelled.
    /// </summary>
    /// <param name="trainBatch">Forward and backward over one batch (gradients accumulated); returns its loss and accuracy.</param>
    /// <param name="validate">The loss and accuracy on one held-out batch, without gradients.</param>
    private static void Loop<T>(
        GptModel model, IReadOnlyList<T> items, TrainingOptions options, Func<List<T>, CancellationToken, (double Loss, double Accuracy)> trainBatch,
        Func<List<T>, (double Loss, double Accuracy)>? validate, IReadOnlyList<T>? validation, Action<TrainingStep>? onStep, Action<int, int>? onEpoch,
        Action<Action<string>, int>? saveState, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfZero(items.Count);
        torch.set_num_threads(options.Threads);
        // Training draws no randomness from libtorch (no dropout), and reseeding its global generator here would
        // disturb a model being built on another thread; the seed orders the examples.
        var random = new Random(options.Seed);
        var stepsPerEpoch = (items.Count + options.BatchSize - 1) / options.BatchSize;
        var totalSteps = stepsPerEpoch * options.Epochs;
        var warmup = Math.Max(1, (int)(totalSteps * options.WarmupShare));
        using var optimizer = torch.optim.AdamW(model.parameters(), options.LearningRate, weight_decay: options.WeightDecay);
        if (options.OptimizerState is { } saved)
        {
            optimizer.load_state_dict(saved);
        }
        model.train();
        void Save(int done) => saveState?.Invoke(path => optimizer.save_state_dict(path), done);

        var order = Enumerable.Range(0, items.Count).ToArray();
        var step = 0;
        for (var epoch = 0; epoch < options.Epochs; epoch++)
        {
            random.Shuffle(order);
            for (var start = 0; start < order.Length; start += options.BatchSize)
            {
                if (step < options.StartStep)
                {
                    step++; // done by the earlier run: the order advances as it did, nothing trains
                    continue;
                }
                if (cancellationToken.IsCancellationRequested)
                {
                    Save(step);
                    cancellationToken.ThrowIfCancellationRequested();
                }
                var batch = order.Skip(start).Take(options.BatchSize).Select(i => items[i]).ToList();
                var rate = LearningRate(step, totalSteps, warmup, options.LearningRate);
                foreach (var group in optimizer.ParamGroups)
                {
                    group.LearningRate = rate;
                }
                optimizer.zero_grad();
                (double Loss, double Accuracy) trained;
                try
                {
                    trained = trainBatch(batch, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    // Before this step's update: the weights are those of the last step, as the saved state is.
                    optimizer.zero_grad();
                    Save(step);
                    throw;
                }
                nn.utils.clip_grad_norm_(model.parameters(), options.GradientClip);
                optimizer.step();

                (double Loss, double Accuracy)? held = null;
                if (validate is not null && validation is { Count: > 0 })
                {
                    // The validation batch is a function of the step, so a resumed run takes the same turns.
                    var take = Math.Min(options.BatchSize, validation.Count);
                    var first = (int)((long)step * take % validation.Count);
                    held = validate([.. Enumerable.Range(0, take).Select(i => validation[(first + i) % validation.Count])]);
                }
                step++;
                onStep?.Invoke(new TrainingStep(step, totalSteps, trained.Loss, trained.Accuracy, held?.Loss, held?.Accuracy));
            }
            if (step > options.StartStep)
            {
                onEpoch?.Invoke(epoch + 1, step);
                Save(step);
            }
        }
        model.eval();
    }

    /// <summary>Trained positions (target not -100) where the most likely token is the target.</summary>
    private static long CorrectCount(Tensor logits, Tensor targets) =>
        logits.argmax(1).eq(targets).logical_and(targets.ne(-100)).sum().item<long>();

    private static double LearningRate(int step, int totalSteps, int warmup, double peak)
    {
        if (step < warmup)
        {
            return peak * (step + 1) / warmup;
        }
        var progress = (double)(step - warmup) / Math.Max(1, totalSteps - warmup);
        return peak * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }

    /// <summary>Inputs are tokens[0..n-1], targets tokens[1..n] (-100 where not trained or padding), cut to the context.</summary>
    private static (Tensor Inputs, Tensor Targets) Batch(List<EncodedExample> batch, int context)
    {
        var length = Math.Min(context, batch.Max(e => e.Tokens.Length) - 1);
        var inputs = new long[batch.Count * length];
        var targets = new long[batch.Count * length];
        Array.Fill(inputs, EngineVocabulary.Pad);
        Array.Fill(targets, -100L);
        for (var b = 0; b < batch.Count; b++)
        {
            var example = batch[b];
            var n = Math.Min(length, example.Tokens.Length - 1);
            for (var t = 0; t < n; t++)
            {
                inputs[b * length + t] = example.Tokens[t];
                if (example.Trained[t + 1])
                {
                    targets[b * length + t] = example.Tokens[t + 1];
                }
            }
        }
        return (torch.tensor(inputs, [batch.Count, length]), torch.tensor(targets, [batch.Count, length]));
    }
}
