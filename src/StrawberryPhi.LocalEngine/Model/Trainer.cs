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

/// <summary>
/// Supervised training with the loss on trained assistant tokens only: AdamW, linear warm-up then cosine decay to a
/// tenth of the peak, gradient clipping, and a seeded shuffle, so the same seed gives the same run.
/// </summary>
public static class Trainer
{
    /// <summary>Tokens per micro-batch: small enough that a cancel waits well under a second on the small base.</summary>
    private const int MicroBatchTokens = 1024;

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
        var validationStart = 0;
        ArgumentOutOfRangeException.ThrowIfZero(examples.Count);
        torch.set_num_threads(options.Threads);
        // Training draws no randomness from libtorch (no dropout), and reseeding its global generator here would
        // disturb a model being built on another thread; the seed orders the examples.
        var random = new Random(options.Seed);
        var context = model.Size.Context;
        var stepsPerEpoch = (examples.Count + options.BatchSize - 1) / options.BatchSize;
        var totalSteps = stepsPerEpoch * options.Epochs;
        var warmup = Math.Max(1, (int)(totalSteps * options.WarmupShare));
        using var optimizer = torch.optim.AdamW(model.parameters(), options.LearningRate, weight_decay: options.WeightDecay);
        if (options.OptimizerState is { } saved)
        {
            optimizer.load_state_dict(saved);
        }
        model.train();

        var order = Enumerable.Range(0, examples.Count).ToArray();
        var step = 0;
        void Save(Action<string> write, int done) => saveState?.Invoke(write, done);
        for (var epoch = 0; epoch < options.Epochs; epoch++)
        {
            random.Shuffle(order);
            for (var start = 0; start < order.Length; start += options.BatchSize)
            {
                if (step < options.StartStep)
                {
                    // Done by the earlier run: the order and the validation turn advance as they did, nothing trains.
                    if (validation is { Count: > 0 })
                    {
                        validationStart = (validationStart + Math.Min(options.BatchSize, validation.Count)) % validation.Count;
                    }
                    step++;
                    continue;
                }
                if (cancellationToken.IsCancellationRequested)
                {
                    Save(path => optimizer.save_state_dict(path), step);
                    cancellationToken.ThrowIfCancellationRequested();
                }
                var batch = order.Skip(start).Take(options.BatchSize).Select(i => examples[i]).ToList();
                var rate = LearningRate(step, totalSteps, warmup, options.LearningRate);
                foreach (var group in optimizer.ParamGroups)
                {
                    group.LearningRate = rate;
                }

                // Gradients accumulate over micro-batches: the same mean loss over the batch's trained tokens, with a
                // cancellation check every few sequences (a step of the small model on long sequences takes seconds).
                optimizer.zero_grad();
                var trainedTokens = Math.Max(1, batch.Sum(e => CountTrained(e, context)));
                double lossSum = 0;
                long correct = 0;
                var longest = Math.Min(context, batch.Max(e => e.Tokens.Length - 1));
                foreach (var micro in batch.Chunk(Math.Max(1, MicroBatchTokens / Math.Max(1, longest))))
                {
                    if (cancellationToken.IsCancellationRequested)
                    {
                        // Before this step's update: the weights are those of the last step, as the saved state is.
                        optimizer.zero_grad();
                        Save(path => optimizer.save_state_dict(path), step);
                        cancellationToken.ThrowIfCancellationRequested();
                    }
                    using var microScope = torch.NewDisposeScope();
                    var (inputs, targets) = Batch([.. micro], context);
                    var logits = model.forward(inputs).reshape(-1, EngineVocabulary.Size);
                    var flatTargets = targets.reshape(-1);
                    var loss = nn.functional.cross_entropy(logits, flatTargets, ignore_index: -100, reduction: nn.Reduction.Sum) / trainedTokens;
                    loss.backward();
                    lossSum += loss.item<float>();
                    correct += CorrectCount(logits, flatTargets);
                }
                nn.utils.clip_grad_norm_(model.parameters(), options.GradientClip);
                optimizer.step();

                using var scope = torch.NewDisposeScope();
                var trainAccuracy = (double)correct / trainedTokens;
                double? validLoss = null, validAccuracy = null;
                if (validation is { Count: > 0 })
                {
                    var held = Enumerable.Range(0, Math.Min(options.BatchSize, validation.Count))
                        .Select(i => validation[(validationStart + i) % validation.Count]).ToList();
                    validationStart = (validationStart + held.Count) % validation.Count;
                    using var noGrad = torch.no_grad();
                    var (validInputs, validTargets) = Batch(held, context);
                    var validLogits = model.forward(validInputs).reshape(-1, EngineVocabulary.Size);
                    var flatValidTargets = validTargets.reshape(-1);
                    validLoss = nn.functional.cross_entropy(validLogits, flatValidTargets, ignore_index: -100).item<float>();
                    validAccuracy = (double)CorrectCount(validLogits, flatValidTargets) / Math.Max(1, flatValidTargets.ne(-100).sum().item<long>());
                }
                step++;
                onStep?.Invoke(new TrainingStep(step, totalSteps, lossSum, trainAccuracy, validLoss, validAccuracy));
            }
            if (step > options.StartStep)
            {
                onEpoch?.Invoke(epoch + 1, step);
                Save(path => optimizer.save_state_dict(path), step);
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
