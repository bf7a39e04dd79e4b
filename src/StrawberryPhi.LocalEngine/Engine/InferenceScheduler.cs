using System.Threading.Channels;
using StrawberryPhi.LocalEngine.Model;

namespace StrawberryPhi.LocalEngine.Engine;

/// <summary>
/// Serves chat completions from one thread that decodes every waiting request of a model together: a request
/// joins the batch as soon as a slot is free (after one prefill of its prompt), each step adds a token to all of
/// them, and a finished one leaves at once. Sampling state is per request, so a seed gives the same answer
/// whatever else is in the batch.
/// </summary>
public sealed class InferenceScheduler : IDisposable
{
    private sealed record Request(GptModel Model, Generation Generation, TaskCompletionSource<Completion> Done);

    private readonly Channel<Request> _queue = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<Request> _waiting = [];
    private readonly Dictionary<GptModel, BatchDecoder> _decoders = [];
    private readonly Dictionary<Generation, Request> _active = [];
    private readonly Lock _gate;
    private readonly Thread _thread;
    private volatile bool _disposed;

    /// <param name="gate">Held during every step, so a model is never disposed under a running batch.</param>
    public InferenceScheduler(int maxBatch, Lock gate)
    {
        MaxBatch = Math.Max(1, maxBatch);
        _gate = gate;
        _thread = new Thread(Loop) { IsBackground = true, Name = "strawberry-phi inference" };
        _thread.Start();
    }

    /// <summary>Sequences of one model decoded together at most.</summary>
    public int MaxBatch { get; }

    public Task<Completion> GenerateAsync(GptModel model, int[] prompt, SamplingOptions options, Action<string>? onText, CancellationToken cancellationToken)
    {
        var request = new Request(model, new Generation(prompt, options, EngineVocabulary.Default, onText, cancellationToken),
            new TaskCompletionSource<Completion>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(request))
        {
            request.Generation.Dispose();
            throw new ObjectDisposedException(nameof(InferenceScheduler));
        }
        return request.Done.Task;
    }

    /// <summary>Fails every request on <paramref name="model"/> (it is about to be disposed). Call while holding the gate.</summary>
    public void Abandon(GptModel model)
    {
        foreach (var request in _active.Values.Concat(_waiting).Where(r => r.Model == model).ToList())
        {
            End(request, new InvalidOperationException("The model was deleted while it was generating."));
        }
        if (_decoders.Remove(model, out var decoder))
        {
            decoder.Dispose();
        }
    }

    private void Loop()
    {
        while (!_disposed)
        {
            bool idle;
            lock (_gate)
            {
                idle = _active.Count == 0 && _waiting.Count == 0;
            }
            if (idle)
            {
                // Nothing to decode: sleep until a request comes (or the scheduler is disposed).
                if (!_queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
                {
                    return;
                }
            }
            lock (_gate)
            {
                // The lists are touched only under the gate (Abandon runs on another thread).
                while (_queue.Reader.TryRead(out var request))
                {
                    _waiting.Add(request);
                }
                Admit();
                foreach (var (model, decoder) in _decoders.ToList())
                {
                    try
                    {
                        foreach (var generation in decoder.Count > 0 ? decoder.Step() : [])
                        {
                            End(_active[generation], null);
                        }
                    }
                    catch (Exception e)
                    {
                        foreach (var request in _active.Values.Where(r => r.Model == model).ToList())
                        {
                            End(request, e);
                        }
                        _decoders.Remove(model);
                        decoder.Dispose();
                    }
                    if (decoder.Count == 0 && _decoders.Remove(model))
                    {
                        decoder.Dispose();
                    }
                }
            }
        }
    }

    /// <summary>Moves waiting requests into their model's batch while it has room, oldest first.</summary>
    private void Admit()
    {
        foreach (var request in _waiting.ToList())
        {
            if (request.Generation.CancellationToken.IsCancellationRequested)
            {
                _waiting.Remove(request);
                End(request, null);
                continue;
            }
            if (!_decoders.TryGetValue(request.Model, out var decoder))
            {
                decoder = _decoders[request.Model] = new BatchDecoder(request.Model, MaxBatch);
            }
            if (!decoder.HasRoom)
            {
                continue;
            }
            _waiting.Remove(request);
            try
            {
                decoder.Add(request.Generation);
                if (request.Generation.Done)
                {
                    End(request, null);
                }
                else
                {
                    _active[request.Generation] = request;
                }
            }
            catch (Exception e)
            {
                End(request, e);
            }
        }
    }

    private void End(Request request, Exception? error)
    {
        _active.Remove(request.Generation);
        _waiting.Remove(request);
        if (error is not null)
        {
            request.Done.TrySetException(error);
        }
        else if (request.Generation.CancellationToken.IsCancellationRequested)
        {
            request.Done.TrySetCanceled(request.Generation.CancellationToken);
        }
        else
        {
            request.Done.TrySetResult(request.Generation.Result());
        }
        request.Generation.Dispose();
    }

    public void Dispose()
    {
        _disposed = true;
        _queue.Writer.TryComplete();
        _thread.Join(TimeSpan.FromSeconds(10));
        lock (_gate)
        {
            foreach (var request in _active.Values.Concat(_waiting).ToList())
            {
                End(request, new ObjectDisposedException(nameof(InferenceScheduler)));
            }
            foreach (var decoder in _decoders.Values)
            {
                decoder.Dispose();
            }
            _decoders.Clear();
        }
    }
}
